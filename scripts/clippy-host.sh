#!/usr/bin/env bash
# clippy on the host crate, with the settings its build uses (scripts/build-host.sh).
. "$(dirname "$0")/lib.sh"
bash "$ROOT/scripts/build-host.sh" >/dev/null
export ORT_LIB_LOCATION="$CACHE/ort/$ORT_VERSION/lib" ORT_PREFER_DYNAMIC_LINK=1
export CARGO_TARGET_DIR="$CACHE/host-target"
cargo clippy --release --locked --manifest-path "$ROOT/host/Cargo.toml" -- -D warnings
