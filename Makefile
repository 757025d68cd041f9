# wasi-detect: `make run` sets everything up and serves; `make test` runs every test.
# The expensive parts (the host, the converted model, the Python venv) are
# cached under ~/.cache/wasi-detect/ (or $WASI_DETECT_CACHE), keyed by what they
# are built from, so second runs take seconds.

SHELL := /bin/bash
PORT ?= 8080
# The engine behind wasi-nn: onnx (ONNX Runtime) or openvino (OpenVINO).
BACKEND ?= onnx
export PORT BACKEND

.PHONY: run setup host model component test lint unit-test integration-test reference-test clean

run: setup
	@bash scripts/serve.sh

setup: host model component

host:
	@bash scripts/build-host.sh >/dev/null

model:
	@bash models/build.sh >/dev/null

component:
	@bash scripts/build-component.sh >/dev/null
	@wc -c < target/wasm32-wasip2/release/wasi_detect.wasm | xargs -I{} echo "component: target/wasm32-wasip2/release/wasi_detect.wasm ({} bytes)"

test: setup lint reference-test
	cargo test --locked

lint:
	cargo fmt --all --check
	cargo fmt --manifest-path host/Cargo.toml --check
	cargo clippy --locked --all-targets -- -D warnings
	cargo clippy --locked --release --target wasm32-wasip2 --lib -- -D warnings

# The Python reference itself, against the shared vectors.
reference-test:
	@"$$(bash scripts/python-env.sh)" tests/reference/check_vectors.py

clean:
	cargo clean
