#!/usr/bin/env bash
# Serves the component with the native host on ${ADDR:-127.0.0.1}:${PORT:-8080},
# inference by ${BACKEND:-onnx}: `onnx` (ONNX Runtime, models/nanodet/model.onnx)
# or `openvino` (OpenVINO, models/nanodet-ov/model.xml + model.bin). The same
# component serves both. The host preloads the model (`-S nn-graph`) once, so
# every instance finds it with `load-by-name`; instances are reused so each
# keeps its graph and execution context between requests. Extra arguments go
# to `serve`.
. "$(dirname "$0")/lib.sh"

backend="${BACKEND:-onnx}"
case "$backend" in
    onnx) model=nanodet ;;
    openvino)
        model=nanodet-ov
        # Where the host finds libopenvino_c.so (the PyPI wheel's libraries).
        LD_LIBRARY_PATH="$("$ROOT/scripts/openvino-libs.sh")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        export LD_LIBRARY_PATH
        ;;
    *) die "BACKEND=$backend: use onnx or openvino" ;;
esac

host="$ROOT/target/host/wasi-detect-host"
wasm="${WASM:-$ROOT/dist/wasi-detect.wasm}"
for f in "$host" "$wasm" "$ROOT/models/$model"; do
    [ -e "$f" ] || die "$f is missing: run 'make setup' first"
done
addr="${ADDR:-127.0.0.1}:${PORT:-8080}"
# The portable build (WASM=dist/wasi-detect-portable.wasm) reads Spin's
# application variables through wasi:config: it is served with `-S config`.
# Variables are extra arguments: `-S config-var=threshold=0.5`.
if grep -qaF "wasi:config/store@" "$wasm"; then
    set -- -S config "$@"
fi

log "serving on http://$addr with $backend  (POST /predict, GET /warm; Ctrl-C stops)"
log "try: curl -H 'content-type: image/jpeg' --data-binary @tests/fixtures/astronaut.jpg http://$addr/predict"
exec "$host" serve \
    -S cli -S nn -S "nn-graph=$backend::$ROOT/models/$model" \
    --env "WASI_DETECT_MODEL=$model" \
    --dir "$ROOT/models::/models" \
    --max-instance-reuse-count "${MAX_INSTANCE_REUSE:-1000}" \
    --idle-instance-timeout "${IDLE_INSTANCE_TIMEOUT:-60s}" \
    --addr "$addr" "$@" "$wasm"
