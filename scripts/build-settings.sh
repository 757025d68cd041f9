#!/usr/bin/env bash
# Builds the settings component (settings/, wasm32-wasip2, release) and
# prints its path. It exports wasi:cli/environment: the host's environment
# plus the host's wasi:config variables as WASI_DETECT_<NAME>. The portable
# build plugs it into the detector's environment import, so Spin's
# application variables (spin.toml's [variables]) set the detector's settings.
#
#   DEFAULT_MODEL=<name>  the model the detector uses where neither the
#                         environment nor a variable names one: the one
#                         the portable build carries (scripts/build-portable.sh).
. "$(dirname "$0")/lib.sh"

# Read by option_env! at compile time (cargo rebuilds when it changes).
if [ -n "${DEFAULT_MODEL:-}" ]; then
    export WASI_DETECT_DEFAULT_MODEL="$DEFAULT_MODEL"
else
    unset WASI_DETECT_DEFAULT_MODEL
fi
cargo build --quiet --release --locked --target wasm32-wasip2 -p wasi-detect-settings \
    --manifest-path "$ROOT/Cargo.toml" >&2
built="$ROOT/target/wasm32-wasip2/release/wasi_detect_settings.wasm"
[ -f "$built" ] || die "the build made no $built"
echo "$built"
