#!/usr/bin/env bash
# The portable provider's matrix kernel (provider/src/gemm.rs) against the
# same arithmetic in scalar Rust: it is wasm SIMD, compiled only for wasm,
# so its unit tests run there, under the host's wasmtime.
. "$(dirname "$0")/lib.sh"

rust_target wasm32-wasip1
host="$(bash "$ROOT/scripts/build-host.sh")"
CARGO_TARGET_WASM32_WASIP1_RUNNER="$host run" \
CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-C target-feature=+simd128" \
    cargo test --locked --quiet --manifest-path "$ROOT/Cargo.toml" -p wasi-nn-tract --lib \
    --target wasm32-wasip1 -- gemm
