# wasi-detect: `make run` sets everything up and serves; `make test` runs every test.
# The expensive parts (the host, the converted model, the Python venv) are
# cached under ~/.cache/wasi-detect/ (or $WASI_DETECT_CACHE), keyed by what they
# are built from, so second runs take seconds.

SHELL := /bin/bash
PORT ?= 8080
# The engine behind wasi-nn: onnx (ONNX Runtime) or openvino (OpenVINO).
BACKEND ?= onnx
export PORT BACKEND

.PHONY: run run-kserve setup host model component browser portable kserve examples browser-deps test lint reference-test pixels-wasm gemm-wasm fuzz fuzz-ci load bench clean

run: setup
	@bash scripts/serve.sh

# One after the other: the host's build is 8 of a first run's 9.5 minutes on
# 2 cores and keeps both busy, so running the other steps beside it (make
# -j3) made the first run longer, 11.2 minutes, not shorter.
setup: host model component browser examples

# The portable build for hosts without wasi-nn (Spin, Fermyon Cloud, SpinKube):
# the detector composed with the tract-based wasi-nn provider and the settings
# component (Spin's application variables). MODEL (a folder of models/) is
# built in, pre-initialised; `make portable MODEL=` builds code only. The
# default is coco-ssd: tract in wasm runs it 2.6 times as fast as NanoDet.
MODEL ?= coco-ssd
portable: host
	@MODEL="$(MODEL)" bash scripts/build-portable.sh >/dev/null
	@wc -c < dist/wasi-detect-portable-code.wasm | xargs -I{} echo "portable, code only: dist/wasi-detect-portable-code.wasm ({} bytes)"
	@wc -c < dist/wasi-detect-portable.wasm | xargs -I{} echo "portable: dist/wasi-detect-portable.wasm ({} bytes, $(or $(MODEL),no model) built in)"
	@wc -c < dist/wasi-detect-portable-p3.wasm | xargs -I{} echo "portable, WASIp3 (Spin 4): dist/wasi-detect-portable-p3.wasm ({} bytes)"
	@python3 scripts/spin-upload.py spin.toml
	@python3 scripts/spin-upload.py spin-full.toml
	@python3 scripts/spin-upload.py spin-p3.toml

# The build over a KServe v2 inference server (KServe, Triton, OpenVINO
# Model Server) for hosts without wasi-nn: the detector composed with
# provider-kserve/ and the settings component; spin-kserve.toml runs it.
kserve:
	@bash scripts/build-kserve.sh >/dev/null
	@wc -c < dist/wasi-detect-kserve.wasm | xargs -I{} echo "over a v2 server: dist/wasi-detect-kserve.wasm ({} bytes)"

# That build served as Spin would, over a KServe server started beside it
# (kserve/server.py, the models of models/): INFERENCE_URL=<url> for your own.
run-kserve: setup kserve
	@bash scripts/serve-kserve.sh

# The demo page's example photos, served from beside the model folders.
EXAMPLES := astronaut.jpg chelsea-progressive.jpg coffee-rotated.jpg camera.png
examples:
	@mkdir -p models/examples
	@cd tests/fixtures && cp -u $(EXAMPLES) ../../models/examples/

# Private mode's files (scripts/build-browser.sh): the component transpiled by
# jco for the browser, the wasi:nn shim on onnxruntime-web, bundled into
# models/browser/, which the component serves; and a .gz beside each, and
# beside each model's model.onnx, for browsers that take gzip.
browser: component model
	@bash scripts/build-browser.sh >/dev/null
	@echo "private mode: models/browser/ ($$(du -cb --exclude='*.gz' models/browser/*/* | tail -1 | cut -f1) bytes, $$(du -cb models/browser/*/*.gz | tail -1 | cut -f1) gzipped)"

# Headless Chromium and playwright-core for the page's browser test.
browser-deps:
	@bash scripts/browser-deps.sh

host:
	@bash scripts/build-host.sh >/dev/null

model:
	@bash models/build.sh >/dev/null

component:
	@bash scripts/build-component.sh >/dev/null
	@wc -c < dist/wasi-detect.wasm | xargs -I{} echo "component: dist/wasi-detect.wasm ({} bytes)"

test: setup portable kserve browser-deps lint reference-test pixels-wasm gemm-wasm fuzz-ci
	cargo test --locked --workspace
	@$(MAKE) --no-print-directory load LOAD_SECONDS=30

lint:
	python3 scripts/check-docs.py
	cargo fmt --all --check
	cargo fmt --manifest-path host/Cargo.toml --check
	@bash scripts/clippy-host.sh
	cargo clippy --locked --workspace --all-targets -- -D warnings
	cargo clippy --locked --release --target wasm32-wasip2 --workspace --lib -- -D warnings
	cargo clippy --locked --release --target wasm32-wasip2 --lib --no-default-features --features wasip3 --target-dir target/wasip3 -- -D warnings

# Fuzzing of the pure modules (fuzz/, cargo-fuzz on nightly): each target for
# FUZZ_SECONDS, then every saved regression input. `make test` runs it briefly.
FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

fuzz-ci:
	@FUZZ_SECONDS=20 bash scripts/fuzz.sh

# The real server under wrk at 2x and 4x the cores' concurrency for
# LOAD_SECONDS in all: requests/s, p50/p99, non-2xx (must be 0), host RSS
# (must stay flat). `make test` runs it for 30 s.
LOAD_SECONDS ?= 600
load: setup
	@LOAD_SECONDS=$(LOAD_SECONDS) bash scripts/load.sh

# The detector against the bare engines on this machine: writes BENCHMARKS.md
# and docs/bench.svg (bench/bench.py; BENCH_ARGS=--quick for a short run).
# The portable build is rebuilt first (when its inputs changed), so its
# figures are of the current code too. Private mode is measured in headless
# Chromium (browser-deps).
bench: setup portable kserve browser-deps
	@bash scripts/bench.sh $(BENCH_ARGS)

# The pixel kernels' tests compiled to wasm with SIMD, run by Node's WASI.
pixels-wasm:
	@bash scripts/test-pixels-wasm.sh

# The portable provider's matrix kernel's tests, compiled to wasm, run by
# the host's wasmtime.
gemm-wasm: host
	@bash scripts/test-gemm-wasm.sh

# The Python reference itself, against the shared vectors.
reference-test:
	@"$$(bash scripts/python-env.sh)" tests/reference/check_vectors.py

clean:
	cargo clean
