#!/usr/bin/env bash
# Builds the portable detector for hosts without wasi-nn (Spin, Fermyon Cloud,
# SpinKube): the detector component with its wasi:nn imports plugged by the
# provider component (provider/, tract inside) and its environment by the
# settings component (settings/: Spin's application variables), composed with
# `wac plug`. The result imports no wasi:nn. Prints the deploy artifact's path.
#
#   MODEL=<name>  (default coco-ssd) the model built into the provider and
#                 pre-initialised: models/<name>/model.onnx is read, parsed
#                 and optimised at build time (`wasi-detect-host wizer`,
#                 Wizer), and the instance's memory is snapshot into the component,
#                 so every instance starts with the optimised plan and a fresh
#                 instance per request (as Spin runs it) loads nothing.
#                 MODEL="coco-ssd,nanodet" builds in both.
#   MODEL=        code only: models are read from the models directory.
#   PORTABLE_OUT=<path>  where the deploy artifact goes (default below; its
#                 WASIp3 build beside it, named <path without .wasm>-p3.wasm):
#                 `make bench` builds NanoDet in this way beside the default.
#
# Outputs:
#   dist/wasi-detect-portable.wasm       the deploy artifact (with $MODEL built in)
#   dist/wasi-detect-portable-code.wasm  the same code without a model
#   dist/wasi-detect-portable-p3.wasm    the deploy artifact exporting WASIp3's
#                                        wasi:http (Spin 4, spin-p3.toml): the
#                                        WASIp3 detector with the same provider
#
# The provider is built with relaxed SIMD on top of SIMD (tract's matrix
# kernels then use fused multiply-add; wasmtime and Spin run it), in its own
# target directory since its flags differ from the detector's. The host
# (`make host`) runs Wizer; wac-cli is installed once under $CACHE/tools
# (scripts/lib.sh).
. "$(dirname "$0")/lib.sh"

MODEL="${MODEL-coco-ssd}"
wac="$(wac)"

detector="$("$ROOT/scripts/build-component.sh")"
detector_p3="$(WASIP=3 "$ROOT/scripts/build-component.sh")"
# The first model built in is the artifact's default (under the host's
# environment and Spin's variables); code only, the detector's own.
settings="$(DEFAULT_MODEL="${MODEL%%,*}" "$ROOT/scripts/build-settings.sh")"
# Cargo's target directory is kept under $CACHE: tract takes minutes to build,
# and a fresh clone on the same machine reuses it. WASI_DETECT_PORTABLE_TARGET
# puts it elsewhere (a checkout that must not share it).
target="${WASI_DETECT_PORTABLE_TARGET:-$CACHE/portable-target}"
CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd -C link-arg=--max-memory=268435456" \
    cargo build --quiet --release --locked --target wasm32-wasip2 -p wasi-nn-tract \
    --manifest-path "$ROOT/Cargo.toml" --target-dir "$target" >&2
built="$target/wasm32-wasip2/release/wasi_nn_tract.wasm"
out_dir="$ROOT/target/portable"
mkdir -p "$ROOT/dist" "$out_dir"

# Binaryen's size passes on the provider's code, as on the detector's
# (scripts/build-component.sh), when the build changed: -Oz takes 39% off
# (16.1 to 7.2 MB with tract's cold crates at opt-level "z", Cargo.toml) at
# the same inference speed.
provider="$out_dir/provider.wasm"
shrink "$built" "$provider" -Oz --enable-relaxed-simd

code="$ROOT/dist/wasi-detect-portable-code.wasm"
"$wac" plug "$detector" --plug "$settings" --plug "$provider" -o "$code.tmp" >&2
mv "$code.tmp" "$code"

out="${PORTABLE_OUT:-$ROOT/dist/wasi-detect-portable.wasm}"
out_p3="${out%.wasm}-p3.wasm"
mkdir -p "$(dirname "$out")"
if [ -z "$MODEL" ]; then
    cp "$code" "$out.tmp"
    "$wac" plug "$detector_p3" --plug "$settings" --plug "$provider" -o "$out_p3.tmp" >&2
else
    for name in ${MODEL//,/ }; do
        onnx="$ROOT/models/$name/model.onnx"
        [ -f "$onnx" ] || die "$onnx is missing: MODEL names folders of models/ with a model.onnx ('make model' builds nanodet, centernet and coco-ssd)"
    done
    host="$("$ROOT/scripts/build-host.sh")"
    baked="$out_dir/provider-${MODEL//,/-}.wasm"
    # Wizer calls `wizer-initialize`, which loads the model from the models
    # folder as load-by-name does; then only memory is kept, no file or
    # environment. The export stays: the component's lifted function refers
    # to it. (It prints the init function's result, "()", on stdout.)
    "$host" wizer --keep-init-func -S cli --env "WASI_NN_TRACT_BAKE=$MODEL" \
        --dir "$ROOT/models::/models" -o "$baked" "$provider" >/dev/null
    "$wac" plug "$detector" --plug "$settings" --plug "$baked" -o "$out.tmp" >&2
    "$wac" plug "$detector_p3" --plug "$settings" --plug "$baked" -o "$out_p3.tmp" >&2
fi
mv "$out.tmp" "$out"
mv "$out_p3.tmp" "$out_p3"
echo "$out"
