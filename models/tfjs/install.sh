#!/usr/bin/env bash
# Installs TensorFlow.js (the npm package @tensorflow/tfjs, pinned by
# models/tfjs/package-lock.json) once under $CACHE/tfjs-<hash of the lock>/
# and prints the path of its node_modules, for models/verify_centernet.py's
# --tfjs. Pure JavaScript: only the npm registry is used, no install scripts
# run. Logs go to stderr.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

npm_cached "$ROOT/models/tfjs" tfjs "TensorFlow.js (npm @tensorflow/tfjs, about 300 MB)"
