#!/usr/bin/env bash
# Serves the detector over a KServe v2 server on one machine, as a Spin host
# would run spin-kserve.toml: the v2 server (kserve/server.py: PyPI kserve
# with ONNX Runtime, the models of models/) on 127.0.0.1:${INFERENCE_PORT:-8000},
# then dist/wasi-detect-kserve.wasm under `wasmtime serve` WITHOUT wasi-nn,
# a fresh instance per request, its settings as application variables, on
# ${ADDR:-127.0.0.1}:${PORT:-8080}. V2_SERVER=host starts
# `wasi-detect-host v2` instead of KServe (the host's ONNX Runtime behind
# the same protocol: no Python, ready in a second); INFERENCE_URL=<url> uses
# a server of your own. Ctrl-C stops both.
. "$(dirname "$0")/lib.sh"

host="$ROOT/target/host/wasi-detect-host"
wasm="$ROOT/dist/wasi-detect-kserve.wasm"
for f in "$host" "$wasm"; do
    [ -e "$f" ] || die "$f is missing: run 'make setup kserve' first"
done
models=(nanodet centernet coco-ssd)
url="${INFERENCE_URL:-}"
if [ -z "$url" ]; then
    port="${INFERENCE_PORT:-8000}"
    url="http://127.0.0.1:$port"
    case "${V2_SERVER:-kserve}" in
        kserve)
            py="$("$ROOT/scripts/python-env.sh" "$ROOT/kserve/requirements.txt")"
            log "starting a KServe v2 server with ${models[*]} on $url (kserve/server.py)"
            "$py" "$ROOT/kserve/server.py" --models-dir "$ROOT/models" --port "$port" \
                "${models[@]/#/--model=}" >&2 &
            ;;
        host)
            log "starting wasi-detect-host v2 with ${models[*]} on $url"
            args=()
            for m in "${models[@]}"; do args+=(--model "$m=$ROOT/models/$m"); done
            "$host" v2 --addr "127.0.0.1:$port" "${args[@]}" >&2 &
            ;;
        *) die "V2_SERVER=$V2_SERVER: use kserve or host" ;;
    esac
    server=$!
    trap 'kill $server 2>/dev/null' EXIT
    for _ in $(seq 1 600); do
        curl -fs "$url/v2/health/ready" >/dev/null && break
        kill -0 $server 2>/dev/null || die "the v2 server exited"
        sleep 0.2
    done
fi

addr="${ADDR:-127.0.0.1}:${PORT:-8080}"
served="$(IFS=,; echo "${models[*]}")"
log "serving ${models[*]} over $url on http://$addr  (POST /predict; Ctrl-C stops)"
log "try: curl -H 'content-type: image/jpeg' --data-binary @tests/fixtures/astronaut.jpg http://$addr/predict"
# (-S splits its values at commas: the list of models goes as the
# environment variable the `models` variable would set.)
"$host" serve -S cli -S config \
    -S "config-var=inference_url=$url" -S "config-var=model=${models[0]}" --env "WASI_DETECT_MODELS=$served" \
    --dir "$ROOT/models::/models" --addr "$addr" "$@" "$wasm"
