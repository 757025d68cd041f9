#!/usr/bin/env bash
# Builds the component (wasm32-wasip2, release), shrinks it with Binaryen's
# wasm-opt (scripts/shrink-component.py), and prints the deploy artifact's
# path: dist/wasi-detect.wasm. wasm-opt comes from the npm package
# `binaryen` (scripts/lib.sh).
#
#   WASIP=3  the same source exporting WASIp3's wasi:http/handler 0.3 (the
#            `wasip3` feature; Spin 4 reuses its instances), in a target
#            directory of its own: dist/wasi-detect-p3.wasm.
. "$(dirname "$0")/lib.sh"

case "${WASIP:-2}" in
    2) features=() target_dir="$ROOT/target" out="$ROOT/dist/wasi-detect.wasm" ;;
    3)
        features=(--no-default-features --features wasip3)
        target_dir="$ROOT/target/wasip3"
        out="$ROOT/dist/wasi-detect-p3.wasm"
        ;;
    *) die "WASIP=$WASIP: use 2 or 3" ;;
esac

rust_target wasm32-wasip2
cargo build --quiet --release --locked --target wasm32-wasip2 --manifest-path "$ROOT/Cargo.toml" \
    --target-dir "$target_dir" "${features[@]}" >&2
built="$target_dir/wasm32-wasip2/release/wasi_detect.wasm"
[ -f "$built" ] || die "the build made no $built"

# -Os: Binaryen's size passes on top of rustc's opt-level "s" take 14% off
# the code. The features are those the build uses (simd128 and rustc's
# defaults for wasm32-wasip2), so no new ones appear.
shrink "$built" "$out" -Os
echo "$out"
