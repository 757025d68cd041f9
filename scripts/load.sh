#!/usr/bin/env bash
# Load run: the real server (scripts/serve.sh: the host, its admission gate,
# the component, ONNX Runtime) driven by wrk at 2x and 4x the cores'
# concurrency, LOAD_SECONDS in all (default 600, split between the two),
# while the host's resident memory is sampled every second.
#
# Reports requests/s, p50/p99, non-2xx answers and socket errors (both must be
# 0: at these concurrencies the gate queues rather than refuses), and the RSS
# through the run, which must stay flat. Instances are recycled every
# LOAD_INSTANCE_REUSE requests (default 10), so a long run goes through
# hundreds of them. Exits non-zero when a check fails.
. "$(dirname "$0")/lib.sh"

seconds="${LOAD_SECONDS:-600}"
image="${LOAD_IMAGE:-$ROOT/tests/fixtures/astronaut.jpg}"
cores="$(nproc)"
out="$ROOT/target/load"
mkdir -p "$out"
command -v wrk >/dev/null || { log "installing Debian's wrk"; apt_install wrk; }

port="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
MAX_INSTANCE_REUSE="${LOAD_INSTANCE_REUSE:-10}" PORT="$port" \
    bash "$ROOT/scripts/serve.sh" >"$out/server.log" 2>&1 &
serve_pid=$!
sampler_pid=""
cleanup() {
    [ -z "$sampler_pid" ] || kill "$sampler_pid" 2>/dev/null || true
    kill "$serve_pid" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 200); do
    curl -sf "$url/warm" >/dev/null 2>&1 && break
    kill -0 "$serve_pid" 2>/dev/null || { cat "$out/server.log" >&2; die "the server did not start"; }
    sleep 0.1
done
curl -sf "$url/warm" >/dev/null || die "the server did not answer /warm"
host_pid="$(pgrep -P "$serve_pid" -f wasi-detect-host || echo "$serve_pid")"

# RSS of the host, once a second: "seconds-since-start kB".
: >"$out/rss.txt"
(start=$SECONDS; while kill -0 "$host_pid" 2>/dev/null; do
     echo "$((SECONDS - start)) $(ps -o rss= -p "$host_pid" | tr -d ' ')" >>"$out/rss.txt"
     sleep 1
 done) &
sampler_pid=$!

levels=("$((2 * cores))" "$((4 * cores))")
each=$((seconds / ${#levels[@]}))
[ "$each" -ge 1 ] || die "LOAD_SECONDS=$seconds is too short"
log "load: $(basename "$image") at ${levels[*]} connections, ${each}s each, on $cores cores"
failed=0
report="$out/report.md"
{
    echo "| connections | requests | requests/s | p50 ms | p99 ms | non-2xx | socket errors | instances |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
} >"$report"
for c in "${levels[@]}"; do
    "$PYTHON" "$ROOT/scripts/wrk.py" "$url/predict" "$image" "$c" "$each" >"$out/wrk-$c.json"
    "$PYTHON" - "$out/wrk-$c.json" "${LOAD_INSTANCE_REUSE:-10}" >>"$report" <<'PY' || failed=1
import json, sys
r, reuse = json.load(open(sys.argv[1])), int(sys.argv[2])
print(f"| {r['connections']} | {r['requests']} | {r['rps']:.1f} | {r['p50_ms']:.1f} | "
      f"{r['p99_ms']:.1f} | {r['non2xx']} | {r['socket_errors']} | {-(-r['requests'] // reuse)} |")
sys.exit(1 if r["non2xx"] or r["socket_errors"] or not r["requests"] else 0)
PY
done
kill "$sampler_pid" 2>/dev/null || true
sampler_pid=""

# Flat: after a warm-up (the first fifth of the samples: instances, pools and
# allocator arenas filling up), the second half of the run peaks no higher
# than the first half, give or take 10% or 32 MB of allocator noise.
"$PYTHON" - "$out/rss.txt" >>"$report" <<'PY' || failed=1
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
rss = [kb / 1024 for _, kb in rows]
steady = rss[len(rss) // 5:]
half = max(1, len(steady) // 2)
first, second = max(steady[:half]), max(steady[half:] or steady)
flat = second <= max(first * 1.10, first + 32)
print(f"\nHost RSS (MB, sampled every second, {len(rss)} samples): start {rss[0]:.0f}, "
      f"after warm-up: peak of the first half {first:.0f}, of the second half {second:.0f}; "
      f"peak {max(rss):.0f}, end {rss[-1]:.0f}: {'flat' if flat else 'GROWING'}")
sys.exit(0 if flat else 1)
PY
cat "$report"
[ "$failed" -eq 0 ] || die "load run failed its checks (see $out/)"
