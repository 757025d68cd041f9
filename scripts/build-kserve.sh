#!/usr/bin/env bash
# Builds the detector over a v2 inference server, for hosts without wasi-nn
# (Spin, Fermyon Cloud, Akamai Functions, SpinKube) whose models should run
# on a KServe v2 (Open Inference Protocol) server: KServe, NVIDIA Triton,
# OpenVINO Model Server. The detector's wasi:nn imports are plugged by
# provider-kserve/ (each compute one infer request over wasi:http), and
# both its environment and the provider's by the settings component
# (settings/: Spin's application variables, so `inference_url` reaches the
# provider as WASI_DETECT_INFERENCE_URL). Composed with `wac plug`, as
# scripts/build-portable.sh does. Prints the WASIp2 artifact's path.
#
# Outputs:
#   dist/wasi-detect-kserve.wasm     WASIp2 (Spin 3, SpinKube, Fermyon Cloud,
#                                    `wasmtime serve`): spin-kserve.toml
#   dist/wasi-detect-kserve-p3.wasm  the WASIp3 detector with the same
#                                    provider (Spin 4)
. "$(dirname "$0")/lib.sh"

wac="$(wac)"
detector="$("$ROOT/scripts/build-component.sh")"
detector_p3="$(WASIP=3 "$ROOT/scripts/build-component.sh")"
settings="$("$ROOT/scripts/build-settings.sh")"
cargo build --quiet --release --locked --target wasm32-wasip2 -p wasi-nn-kserve \
    --manifest-path "$ROOT/Cargo.toml" >&2
built="$ROOT/target/wasm32-wasip2/release/wasi_nn_kserve.wasm"
[ -f "$built" ] || die "the build made no $built"
out_dir="$ROOT/target/kserve"
mkdir -p "$ROOT/dist" "$out_dir"

# Binaryen's size passes, as on the detector (scripts/build-component.sh).
provider="$out_dir/provider.wasm"
shrink "$built" "$provider" -Os

# The provider reads its settings from its own environment: the settings
# component in front of it too, so Spin's variables reach it.
"$wac" plug "$provider" --plug "$settings" -o "$out_dir/provider-settings.wasm" >&2
out="$ROOT/dist/wasi-detect-kserve.wasm"
out_p3="$ROOT/dist/wasi-detect-kserve-p3.wasm"
"$wac" plug "$detector" --plug "$settings" --plug "$out_dir/provider-settings.wasm" -o "$out.tmp" >&2
"$wac" plug "$detector_p3" --plug "$settings" --plug "$out_dir/provider-settings.wasm" -o "$out_p3.tmp" >&2
mv "$out.tmp" "$out"
mv "$out_p3.tmp" "$out_p3"
echo "$out"
