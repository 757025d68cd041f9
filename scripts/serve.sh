#!/usr/bin/env bash
# Serves the component with the native host on ${ADDR:-127.0.0.1}:${PORT:-8080},
# inference by ${BACKEND:-onnx}: `onnx` (ONNX Runtime) or `openvino`
# (OpenVINO). The same component serves both. The models served are the
# folders of models/ with a manifest.json and the backend's weights
# (model.onnx: nanodet, centernet and any folder of your own; model.xml +
# model.bin: nanodet-ov, centernet-ov), or MODELS="a b" to choose; the
# default is NanoDet's. The host preloads them (`-S nn-graph`) once, so every
# instance finds them with `load-by-name`; instances are reused so each keeps
# its graphs and execution contexts between requests. Extra arguments go to
# `serve`.
. "$(dirname "$0")/lib.sh"

backend="${BACKEND:-onnx}"
case "$backend" in
    onnx) default=nanodet weights=model.onnx ;;
    openvino)
        default=nanodet-ov weights=model.xml
        # Where the host finds libopenvino_c.so (the PyPI wheel's libraries).
        LD_LIBRARY_PATH="$("$ROOT/scripts/openvino-libs.sh")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        export LD_LIBRARY_PATH
        ;;
    *) die "BACKEND=$backend: use onnx or openvino" ;;
esac

if [ -n "${MODELS:-}" ]; then
    read -r -a models <<< "${MODELS//,/ }"
else
    # The default first, then every other folder this backend can load.
    models=("$default")
    for dir in "$ROOT"/models/*/; do
        name="$(basename "$dir")"
        if [ "$name" != "$default" ] && [ -f "$dir/manifest.json" ] && [ -f "$dir/$weights" ]; then
            models+=("$name")
        fi
    done
fi

host="$ROOT/target/host/wasi-detect-host"
wasm="${WASM:-$ROOT/dist/wasi-detect.wasm}"
graphs=()
for f in "$host" "$wasm" "${models[@]/#/$ROOT/models/}"; do
    [ -e "$f" ] || die "$f is missing: run 'make setup' first"
done
for model in "${models[@]}"; do
    graphs+=(-S "nn-graph=$backend::$ROOT/models/$model")
done
# models/ holds both formats of each model: this backend's are the ones served.
served="$(IFS=,; echo "${models[*]}")"
addr="${ADDR:-127.0.0.1}:${PORT:-8080}"
# The portable build (WASM=dist/wasi-detect-portable.wasm) reads Spin's
# application variables through wasi:config: it is served with `-S config`.
# Variables are extra arguments: `-S config-var=threshold=0.5`.
if grep -qaF "wasi:config/store@" "$wasm"; then
    set -- -S config "$@"
fi

log "serving $served on http://$addr with $backend  (POST /predict, GET /warm, GET /models; Ctrl-C stops)"
log "try: curl -H 'content-type: image/jpeg' --data-binary @tests/fixtures/astronaut.jpg http://$addr/predict"
exec "$host" serve \
    -S cli -S nn "${graphs[@]}" \
    --env "WASI_DETECT_MODEL=${models[0]}" --env "WASI_DETECT_MODELS=$served" \
    --dir "$ROOT/models::/models" \
    --max-instance-reuse-count "${MAX_INSTANCE_REUSE:-1000}" \
    --idle-instance-timeout "${IDLE_INSTANCE_TIMEOUT:-60s}" \
    --addr "$addr" "$@" "$wasm"
