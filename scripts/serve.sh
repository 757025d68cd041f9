#!/usr/bin/env bash
# Serves the component with the native host on ${ADDR:-127.0.0.1}:${PORT:-8080}.
# The host preloads the model (`-S nn-graph`) once, so every instance finds it
# with `load-by-name`; instances are reused so each keeps its graph and
# execution context between requests. Extra arguments go to `serve`.
. "$(dirname "$0")/lib.sh"

host="$ROOT/target/host/wasi-detect-host"
wasm="$ROOT/target/wasm32-wasip2/release/wasi_detect.wasm"
model="$ROOT/models/nanodet"
for f in "$host" "$wasm" "$model/model.onnx"; do
    [ -e "$f" ] || die "$f is missing: run 'make setup' first"
done
addr="${ADDR:-127.0.0.1}:${PORT:-8080}"

log "serving on http://$addr  (POST /predict, GET /warm; Ctrl-C stops)"
log "try: curl -H 'content-type: image/jpeg' --data-binary @tests/fixtures/astronaut.jpg http://$addr/predict"
exec "$host" serve \
    -S cli -S nn -S "nn-graph=onnx::$model" \
    --dir "$ROOT/models::/models" \
    --max-instance-reuse-count "${MAX_INSTANCE_REUSE:-1000}" \
    --idle-instance-timeout "${IDLE_INSTANCE_TIMEOUT:-60s}" \
    --addr "$addr" "$@" "$wasm"
