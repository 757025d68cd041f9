#!/usr/bin/env bash
# TF.js coco-ssd's own answers for image files (detect.mjs), at its defaults
# or at MAX_BOXES / MIN_SCORE: one JSON line per image on stdout. The model is
# the TF.js graph in the npm package models/convert_coco_ssd.py converts
# (`make model` fetches it); the answers are kept under $CACHE keyed by the
# npm lock, detect.mjs, the package and every image, since TensorFlow.js's
# CPU backend takes seconds a photo.
#
# usage: tests/reference/coco-ssd/run.sh IMAGE...
set -euo pipefail
. "$(dirname "$0")/../../../scripts/lib.sh"
here="$ROOT/tests/reference/coco-ssd"
max="${MAX_BOXES:-20}" min="${MIN_SCORE:-0.5}"

py="$("$ROOT/scripts/python-env.sh")"
read -r pkg version shas < <("$py" "$ROOT/models/convert_coco_ssd.py" --print-source)
tgz="$CACHE/npm/$(printf '%s' "${pkg#@}" | tr / -)-$version.tgz"
[ -f "$tgz" ] || die "no $tgz: \`make model\` fetches $pkg@$version"

# The TF.js graph as the package ships it: model.json and its shards.
model="$CACHE/coco-ssd-tfjs-$(hash_inputs "$tgz")"
if [ ! -f "$model/model.json" ]; then
    rm -rf "$model.tmp" && mkdir -p "$model.tmp"
    tar -xzf "$tgz" -C "$model.tmp" --strip-components=3 package/models/coco-ssd
    # The very files the conversion was made from (their pinned checksums).
    got="$(cd "$model.tmp" && sha256sum model.json group1-shard{1..5}of5 | cut -d' ' -f1 | tr '\n' ' ')"
    [ "${got% }" = "$shas" ] || die "$tgz: the model's files are not the ones models/convert_coco_ssd.py pins"
    rm -rf "$model" && mv "$model.tmp" "$model"
fi

answers="$CACHE/coco-ssd-answers/$(hash_inputs "$here/package-lock.json" "$here/detect.mjs" \
    "$tgz" "max=$max" "min=$min" "$@").jsonl"
if [ ! -f "$answers" ]; then
    modules="$("$here/install.sh")"
    log "running TF.js coco-ssd on $# images (seconds each)"
    mkdir -p "$(dirname "$answers")"
    node "$here/detect.mjs" "$modules" "$model" "$max" "$min" "$@" > "$answers.tmp" 2> >(grep -v -e '^=*$' -e 'tfjs-node' -e 'TensorFlow.js in Node' >&2)
    mv "$answers.tmp" "$answers"
fi
cat "$answers"
