#!/usr/bin/env bash
# Builds the settings component (settings/, wasm32-wasip2, release) and
# prints its path. It exports wasi:cli/environment: the host's environment
# plus the host's wasi:config variables as WASI_DETECT_<NAME>. The portable
# build plugs it into the detector's environment import, so Spin's
# application variables (spin.toml's [variables]) set the detector's settings.
. "$(dirname "$0")/lib.sh"

cargo build --quiet --release --locked --target wasm32-wasip2 -p wasi-detect-settings \
    --manifest-path "$ROOT/Cargo.toml" >&2
built="$ROOT/target/wasm32-wasip2/release/wasi_detect_settings.wasm"
[ -f "$built" ] || die "the build made no $built"
echo "$built"
