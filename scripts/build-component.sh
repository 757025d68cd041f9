#!/usr/bin/env bash
# Builds the component (wasm32-wasip2, release), shrinks it with Binaryen's
# wasm-opt (scripts/shrink-component.py), and prints the deploy artifact's
# path: dist/wasi-detect.wasm. wasm-opt comes from the npm package
# `binaryen` (scripts/lib.sh).
. "$(dirname "$0")/lib.sh"

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    log "installing the Rust target wasm32-wasip2"
    rustup target add wasm32-wasip2 >&2
fi
cargo build --quiet --release --locked --target wasm32-wasip2 --manifest-path "$ROOT/Cargo.toml" >&2
built="$ROOT/target/wasm32-wasip2/release/wasi_detect.wasm"
[ -f "$built" ] || die "the build made no $built"

wasm_opt="$(wasm_opt)"

# Shrink only when the build changed: wasm-opt takes about 10 s.
out="$ROOT/dist/wasi-detect.wasm"
stamp="$out.from"
from="$(hash_inputs "$built" "$ROOT/scripts/shrink-component.py" "$wasm_opt")"
if [ ! -f "$out" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$from" ]; then
    mkdir -p "$ROOT/dist"
    # -Os: Binaryen's size passes on top of rustc's opt-level "s" take 14%
    # off the code. The features are those the build uses (simd128 and
    # rustc's defaults for wasm32-wasip2), so no new ones appear.
    "$PYTHON" "$ROOT/scripts/shrink-component.py" "$built" "$out.tmp" \
        node "$wasm_opt" -Os "${WASM_FEATURES[@]}"
    mv "$out.tmp" "$out"
    echo "$from" > "$stamp"
fi
echo "$out"
