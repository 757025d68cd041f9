#!/usr/bin/env bash
# The host crate's unit tests (its flags, the v2 server's protocol), with the
# settings its build uses (scripts/build-host.sh), so its dependencies are
# those already built.
. "$(dirname "$0")/lib.sh"
bash "$ROOT/scripts/build-host.sh" >/dev/null
export ORT_LIB_LOCATION="$CACHE/ort/$ORT_VERSION/lib" ORT_PREFER_DYNAMIC_LINK=1
export CARGO_TARGET_DIR="$CACHE/host-target"
export LD_LIBRARY_PATH="$ORT_LIB_LOCATION${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cargo test --release --locked --manifest-path "$ROOT/host/Cargo.toml"
