# Shared settings for the scripts: where the expensive, reusable things live.
# Everything under $CACHE is keyed by what it was built from, so a second run
# (or a fresh clone on the same machine) reuses it and a change rebuilds it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${WASI_DETECT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasi-detect}"
ORT_VERSION="1.22.1"
PYTHON="${PYTHON:-python3}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# sha256 over the named files' contents and names (sorted), plus extra strings.
hash_inputs() {
    { for f in "$@"; do
          if [ -f "$f" ]; then printf '%s\n' "${f#"$ROOT"/}"; cat "$f"; else printf '%s\n' "$f"; fi
      done; } | sha256sum | cut -c1-16
}

# Installs Debian packages with apt-get (as root, or through sudo).
apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}

# Binaryen's wasm-opt from the npm package `binaryen`, pinned by
# scripts/binaryen/package-lock.json and installed once under $CACHE; prints
# its path (a Node.js script).
wasm_opt() {
    local lock="$ROOT/scripts/binaryen/package-lock.json"
    local binaryen="$CACHE/binaryen-$(hash_inputs "$lock")"
    local bin="$binaryen/node_modules/binaryen/bin/wasm-opt"
    if [ ! -f "$bin" ]; then
        log "installing wasm-opt (npm binaryen)"
        rm -rf "$binaryen.tmp" && mkdir -p "$binaryen.tmp"
        cp "$ROOT/scripts/binaryen/package.json" "$lock" "$binaryen.tmp/"
        (cd "$binaryen.tmp" && npm ci --silent --no-audit --no-fund) >&2
        rm -rf "$binaryen" && mv "$binaryen.tmp" "$binaryen"
    fi
    echo "$bin"
}

# The wasm features rustc's wasm32-wasip2 builds use (SIMD, and its
# defaults), for wasm-opt: it must neither drop nor add any.
WASM_FEATURES=(--enable-simd --enable-bulk-memory --enable-sign-ext --enable-mutable-globals
    --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types)

