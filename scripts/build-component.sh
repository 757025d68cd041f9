#!/usr/bin/env bash
# Builds the component (wasm32-wasip2, release) and prints its path.
. "$(dirname "$0")/lib.sh"

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    log "installing the Rust target wasm32-wasip2"
    rustup target add wasm32-wasip2 >&2
fi
cargo build --quiet --release --locked --target wasm32-wasip2 --manifest-path "$ROOT/Cargo.toml" >&2
wasm="$ROOT/target/wasm32-wasip2/release/wasi_detect.wasm"
[ -f "$wasm" ] || die "the build made no $wasm"
echo "$wasm"
