#!/usr/bin/env bash
# Installs TensorFlow.js (the npm package @tensorflow/tfjs, pinned by
# models/tfjs/package-lock.json) once under $CACHE/tfjs-<hash of the lock>/
# and prints the path of its node_modules, for models/verify_centernet.py's
# --tfjs. Pure JavaScript: only the npm registry is used, no install scripts
# run. Logs go to stderr.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

lock="$ROOT/models/tfjs/package-lock.json"
dest="$CACHE/tfjs-$(hash_inputs "$lock")"
if [ ! -f "$dest/node_modules/@tensorflow/tfjs/package.json" ]; then
    log "installing TensorFlow.js (npm @tensorflow/tfjs, about 300 MB)"
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    cp "$ROOT/models/tfjs/package.json" "$lock" "$dest.tmp/"
    (cd "$dest.tmp" && npm ci --silent --no-audit --no-fund --ignore-scripts) >&2
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
fi
echo "$dest/node_modules"
