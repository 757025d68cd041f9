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

# Installs the Rust target $1 with rustup, once.
rust_target() {
    if ! rustup target list --installed | grep -qx "$1"; then
        log "installing the Rust target $1"
        rustup target add "$1" >&2
    fi
}

# Installs Debian packages with apt-get (as root, or through sudo).
apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}

# Installs the npm packages that folder $1's package.json and
# package-lock.json pin, once, under $CACHE/$2-<hash of the lock>/, and prints
# the path of their node_modules. Only the npm registry is used, and no
# install scripts run. $3 says what is installed, for the log.
npm_cached() {
    local lock="$1/package-lock.json"
    local dest="$CACHE/$2-$(hash_inputs "$lock")"
    if [ ! -d "$dest/node_modules" ]; then
        # One install at a time (tests side by side may ask at once); the
        # second finds the first's.
        mkdir -p "$CACHE"
        (
            flock 9
            if [ ! -d "$dest/node_modules" ]; then
                log "installing $3 (npm ci)"
                rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
                cp "$1/package.json" "$lock" "$dest.tmp/"
                (cd "$dest.tmp" && npm ci --silent --no-audit --no-fund --ignore-scripts) >&2
                rm -rf "$dest" && mv "$dest.tmp" "$dest"
            fi
        ) 9>"$dest.lock"
    fi
    echo "$dest/node_modules"
}

# Binaryen's wasm-opt from the npm package `binaryen`, pinned by
# scripts/binaryen/package-lock.json; prints its path (a Node.js script).
wasm_opt() {
    echo "$(npm_cached "$ROOT/scripts/binaryen" binaryen "wasm-opt (npm binaryen)")/binaryen/bin/wasm-opt"
}

# The wasm features rustc's wasm32-wasip2 builds use (SIMD, and its
# defaults), for wasm-opt: it must neither drop nor add any.
WASM_FEATURES=(--enable-simd --enable-bulk-memory --enable-sign-ext --enable-mutable-globals
    --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types)


# wac-cli (component composition), installed once from crates.io under
# $CACHE/tools; prints its path.
WAC_VERSION="0.12.0"
wac() {
    local bin="$CACHE/tools/wac-cli-$WAC_VERSION/bin/wac"
    if [ ! -x "$bin" ]; then
        log "installing wac-cli $WAC_VERSION (component composition) from crates.io"
        cargo install --quiet --locked wac-cli --version "$WAC_VERSION" \
            --root "$CACHE/tools/wac-cli-$WAC_VERSION" >&2
    fi
    echo "$bin"
}

# shrink BUILT OUT WASM-OPT-FLAGS...: Binaryen's wasm-opt passes on a built
# component (scripts/shrink-component.py), written to OUT only when the
# build, the script or wasm-opt changed since OUT was made (OUT.from keeps
# what it was made from): wasm-opt takes from 10 s to minutes.
shrink() {
    local built="$1" out="$2" wasm_opt from
    shift 2
    wasm_opt="$(wasm_opt)"
    from="$(hash_inputs "$built" "$ROOT/scripts/shrink-component.py" "$wasm_opt")"
    if [ ! -f "$out" ] || [ "$(cat "$out.from" 2>/dev/null)" != "$from" ]; then
        mkdir -p "$(dirname "$out")"
        "$PYTHON" "$ROOT/scripts/shrink-component.py" "$built" "$out.tmp" \
            node "$wasm_opt" "$@" "${WASM_FEATURES[@]}" >&2
        mv "$out.tmp" "$out"
        echo "$from" > "$out.from"
    fi
}
