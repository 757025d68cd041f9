# wasi-detect: `make run` sets everything up and serves; `make test` runs every test.
# The expensive parts (the host, the converted model, the Python venv) are
# cached under ~/.cache/wasi-detect/ (or $WASI_DETECT_CACHE), keyed by what they
# are built from, so second runs take seconds.

SHELL := /bin/bash
PORT ?= 8080
# The engine behind wasi-nn: onnx (ONNX Runtime) or openvino (OpenVINO).
BACKEND ?= onnx
export PORT BACKEND

.PHONY: run setup host model component portable examples browser-deps test lint reference-test clean

run: setup
	@bash scripts/serve.sh

setup: host model component examples

# The portable build for hosts without wasi-nn (Spin, Fermyon Cloud, SpinKube):
# the detector composed with the tract-based wasi-nn provider.
portable:
	@bash scripts/build-portable.sh >/dev/null
	@wc -c < dist/wasi-detect-portable.wasm | xargs -I{} echo "portable: dist/wasi-detect-portable.wasm ({} bytes)"

# The demo page's example photos, served from beside the model folders.
EXAMPLES := astronaut.jpg chelsea-progressive.jpg coffee-rotated.jpg camera.png
examples:
	@mkdir -p models/examples
	@cd tests/fixtures && cp -u $(EXAMPLES) ../../models/examples/

# Headless Chromium and playwright-core for the page's browser test.
browser-deps:
	@bash scripts/browser-deps.sh

host:
	@bash scripts/build-host.sh >/dev/null

model:
	@bash models/build.sh >/dev/null

component:
	@bash scripts/build-component.sh >/dev/null
	@wc -c < target/wasm32-wasip2/release/wasi_detect.wasm | xargs -I{} echo "component: target/wasm32-wasip2/release/wasi_detect.wasm ({} bytes)"

test: setup portable browser-deps lint reference-test
	cargo test --locked --workspace

lint:
	cargo fmt --all --check
	cargo fmt --manifest-path host/Cargo.toml --check
	cargo clippy --locked --workspace --all-targets -- -D warnings
	cargo clippy --locked --release --target wasm32-wasip2 --workspace --lib -- -D warnings

# The Python reference itself, against the shared vectors.
reference-test:
	@"$$(bash scripts/python-env.sh)" tests/reference/check_vectors.py

clean:
	cargo clean
