#!/usr/bin/env bash
# Installs the coco-ssd reference's npm packages (tests/reference/coco-ssd/
# package-lock.json: @tensorflow-models/coco-ssd, @tensorflow/tfjs and sharp,
# whose libvips binaries come in the package) once under
# $CACHE/coco-ssd-reference-<hash of the lock>/ and prints its node_modules.
# No install scripts run. Logs go to stderr.
set -euo pipefail
. "$(dirname "$0")/../../../scripts/lib.sh"

npm_cached "$ROOT/tests/reference/coco-ssd" coco-ssd-reference \
    "TF.js coco-ssd, TensorFlow.js and sharp (npm, about 330 MB)"
