#!/usr/bin/env bash
# The pixel kernels' unit tests (pixels/) compiled to WebAssembly with SIMD,
# as the component runs them: their wasm32 SIMD paths (the resize's row and
# column passes) are compiled only there. Node.js's WASI runs the test
# binary (scripts/wasi-run.mjs). Then the memory a request is reckoned to
# need against what decoding really holds in wasm (tests/memory_reckoning.rs:
# jpeg-decoder runs single-threaded there, as in the component), run by the
# host's wasmtime with the checkout mounted at its own path, where the test
# finds its images (Node's WASI crashes now and then in this one).
. "$(dirname "$0")/lib.sh"

rust_target wasm32-wasip1
export CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $ROOT/scripts/wasi-run.mjs"
export CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-C target-feature=+simd128"
cargo test --locked --quiet --manifest-path "$ROOT/Cargo.toml" -p pixels --target wasm32-wasip1
host="$(bash "$ROOT/scripts/build-host.sh")"
CARGO_TARGET_WASM32_WASIP1_RUNNER="$host run --dir $ROOT::$ROOT" \
    cargo test --locked --quiet --release --manifest-path "$ROOT/Cargo.toml" --target wasm32-wasip1 \
    --test memory_reckoning -- --nocapture
