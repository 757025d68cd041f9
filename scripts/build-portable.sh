#!/usr/bin/env bash
# Builds the portable detector, dist/wasi-detect-portable.wasm: the detector
# component with its wasi:nn imports plugged by the provider component
# (provider/, tract inside), composed with `wac plug`. The result imports no
# wasi:nn, so it runs on hosts that have none (Spin, Fermyon Cloud, SpinKube).
# wac-cli is installed once under $CACHE/tools. Prints the output's path.
. "$(dirname "$0")/lib.sh"

WAC_VERSION="0.12.0"
wac="$CACHE/tools/wac-cli-$WAC_VERSION/bin/wac"
if [ ! -x "$wac" ]; then
    log "installing wac-cli $WAC_VERSION (component composition) from crates.io"
    cargo install --quiet --locked wac-cli --version "$WAC_VERSION" \
        --root "$CACHE/tools/wac-cli-$WAC_VERSION" >&2
fi

detector="$("$ROOT/scripts/build-component.sh")"
cargo build --quiet --release --locked --target wasm32-wasip2 -p wasi-nn-tract \
    --manifest-path "$ROOT/Cargo.toml" >&2
provider="$ROOT/target/wasm32-wasip2/release/wasi_nn_tract.wasm"

out="$ROOT/dist/wasi-detect-portable.wasm"
mkdir -p "$ROOT/dist"
"$wac" plug "$detector" --plug "$provider" -o "$out.tmp" >&2
mv "$out.tmp" "$out"
echo "$out"
