#!/usr/bin/env bash
# Builds the native host (wasmtime serve + ONNX Runtime/OpenVINO wasi-nn) once
# and installs it, with the ONNX Runtime library beside it, under
# $CACHE/host/<key>/. Links target/host to it. A rebuild happens only when the
# host's sources, lock file, ONNX Runtime version or the Rust compiler change.
. "$(dirname "$0")/lib.sh"

ort_dir="$CACHE/ort/$ORT_VERSION/lib"
if [ ! -f "$ort_dir/libonnxruntime.so.$ORT_VERSION" ]; then
    log "fetching ONNX Runtime $ORT_VERSION (PyPI wheel onnxruntime==$ORT_VERSION)"
    dl="$(mktemp -d)"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
        --platform manylinux_2_28_x86_64 --python-version 3.11 \
        -d "$dl" "onnxruntime==$ORT_VERSION"
    mkdir -p "$ort_dir.tmp"
    "$PYTHON" - "$dl"/onnxruntime-*.whl "$ort_dir.tmp" <<'PY'
import sys, zipfile, os
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        base = os.path.basename(n)
        if n.startswith("onnxruntime/capi/libonnxruntime") and ".so" in base:
            with z.open(n) as src, open(os.path.join(out, base), "wb") as dst:
                dst.write(src.read())
PY
    ln -sf "libonnxruntime.so.$ORT_VERSION" "$ort_dir.tmp/libonnxruntime.so.1"
    ln -sf "libonnxruntime.so.$ORT_VERSION" "$ort_dir.tmp/libonnxruntime.so"
    rm -rf "$ort_dir" && mv "$ort_dir.tmp" "$ort_dir" && rm -rf "$dl"
fi

key="$(hash_inputs "$ROOT"/host/Cargo.toml "$ROOT"/host/Cargo.lock "$ROOT"/host/build.rs \
    $(find "$ROOT"/host/vendor -type f | sort) \
    "$ROOT"/host/src/*.rs "ort=$ORT_VERSION" "$(rustc -V)")"
dest="$CACHE/host/$key"
if [ ! -x "$dest/wasi-detect-host" ]; then
    log "building the host (wasmtime serve + wasi-nn ONNX/OpenVINO); the first build takes about 8 minutes on 2 cores"
    export ORT_LIB_LOCATION="$ort_dir" ORT_PREFER_DYNAMIC_LINK=1
    export CARGO_TARGET_DIR="$CACHE/host-target"
    cargo build --release --locked --manifest-path "$ROOT/host/Cargo.toml"
    # Its unit tests (its flags, the v2 server's protocol), once per build:
    # a cached host is one whose tests passed.
    LD_LIBRARY_PATH="$ort_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        cargo test --release --locked --manifest-path "$ROOT/host/Cargo.toml" >&2
    mkdir -p "$dest.tmp"
    cp "$CARGO_TARGET_DIR/release/wasi-detect-host" "$dest.tmp/"
    cp -P "$ort_dir"/libonnxruntime* "$dest.tmp/"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
fi
mkdir -p "$ROOT/target"
ln -sfn "$dest" "$ROOT/target/host"
"$ROOT/target/host/wasi-detect-host" --version >/dev/null || die "the host binary does not run"
echo "$ROOT/target/host/wasi-detect-host"
