#!/usr/bin/env bash
# Builds the component (wasm32-wasip2, release), shrinks it with Binaryen's
# wasm-opt (scripts/shrink-component.py), and prints the deploy artifact's
# path: dist/wasi-detect.wasm. wasm-opt comes from the npm package
# `binaryen`, pinned by scripts/binaryen/package-lock.json and installed once
# under $CACHE.
. "$(dirname "$0")/lib.sh"

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    log "installing the Rust target wasm32-wasip2"
    rustup target add wasm32-wasip2 >&2
fi
cargo build --quiet --release --locked --target wasm32-wasip2 --manifest-path "$ROOT/Cargo.toml" >&2
built="$ROOT/target/wasm32-wasip2/release/wasi_detect.wasm"
[ -f "$built" ] || die "the build made no $built"

lock="$ROOT/scripts/binaryen/package-lock.json"
binaryen="$CACHE/binaryen-$(hash_inputs "$lock")"
wasm_opt="$binaryen/node_modules/binaryen/bin/wasm-opt"
if [ ! -f "$wasm_opt" ]; then
    log "installing wasm-opt (npm binaryen)"
    rm -rf "$binaryen.tmp" && mkdir -p "$binaryen.tmp"
    cp "$ROOT/scripts/binaryen/package.json" "$lock" "$binaryen.tmp/"
    (cd "$binaryen.tmp" && npm ci --silent --no-audit --no-fund) >&2
    rm -rf "$binaryen" && mv "$binaryen.tmp" "$binaryen"
fi

# Shrink only when the build changed: wasm-opt takes about 10 s.
out="$ROOT/dist/wasi-detect.wasm"
stamp="$out.from"
from="$(hash_inputs "$built" "$ROOT/scripts/shrink-component.py" "$lock")"
if [ ! -f "$out" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$from" ]; then
    mkdir -p "$ROOT/dist"
    # -Os: Binaryen's size passes on top of rustc's opt-level "s" take 14%
    # off the code. The features are those the build uses (simd128 and
    # rustc's defaults for wasm32-wasip2), so no new ones appear.
    "$PYTHON" "$ROOT/scripts/shrink-component.py" "$built" "$out.tmp" \
        node "$wasm_opt" -Os \
        --enable-simd --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
        --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types
    mv "$out.tmp" "$out"
    echo "$from" > "$stamp"
fi
echo "$out"
