"""The portable build in `make bench`: the detector with tract inside, as Spin
runs it, measured in the same run as the native build.

- end to end per image with instances reused, and its inference step, with
  the built-in model (coco-ssd unless `make portable MODEL=` said otherwise)
  and, on the small photo, NanoDet read from its folder;
- a fresh instance per request (Spin never reuses a WASIp2 instance; wasmtime
  serve without `--max-instance-reuse-count` behaves the same), pre-initialised
  and code only (which parses and optimises the model in every request);
- NanoDet built in instead (`MODEL=nanodet`, built here beside the default),
  reused and with a fresh instance per request, to set the two models side by
  side as Spin runs them;
- the pre-initialised build under Spin's engine settings (epoch
  interruption, the pooling allocator), reused and fresh;
- the WASIp3 build as Spin 4 runs it (instances reused, several requests
  offered to one at once) against the WASIp2 build as Spin 3 runs it (a
  fresh instance per request): latency, the first request of an instance,
  and requests/s at 1, 2 and 4 connections (wrk);
- the first answer after the server starts, with wasmtime's compiled-code
  cache empty and filled (Spin keeps the same cache, on by default);
- where tract's time goes per op, each model, in the component (the
  provider's `profile` export) and natively (provider/examples/profile.rs);
- the artifacts' sizes.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = ROOT / "target" / "host" / "wasi-detect-host"
PREINIT = ROOT / "dist" / "wasi-detect-portable.wasm"
CODE_ONLY = ROOT / "dist" / "wasi-detect-portable-code.wasm"
PREINIT_P3 = ROOT / "dist" / "wasi-detect-portable-p3.wasm"
# NanoDet pre-initialised instead of the default (built by `measure`).
PREINIT_NANODET = ROOT / "target" / "bench" / "wasi-detect-portable-nanodet.wasm"
# The models whose tract profiles are compared: the built-in one first.
PROFILED = ["nanodet"]


def provider(built_in: str) -> Path:
    """The pre-initialised provider before composition (build-portable.sh)."""
    return ROOT / "target" / "portable" / f"provider-{built_in}.wasm"


# Spin 3's engine (tests/common's SPIN_ENGINE): epoch interruption, which
# Spin always turns on (a check on every loop's back edge; `-W timeout` turns
# it on here, at the 30 s a request gets on Fermyon Cloud and Akamai), and
# the pooling allocator.
SPIN_ENGINE = ["-W", "timeout=30s", "-O", "pooling-allocator=y"]


def serve_args(wasm: Path, port: int, reuse: bool, spin: bool = False,
               gate: bool = True) -> list[str]:
    """`wasmtime serve` as Spin runs the portable build: no wasi-nn, Spin's
    variables through wasi:config, the models folder read-only, a fresh
    instance per request unless `reuse` (a WASIp2 build; a WASIp3 one gets
    wasmtime's defaults, which are Spin 4's); with `spin`, Spin's engine
    settings too; without `gate`, no admission gate in front, as on Spin."""
    args = [str(HOST), "serve", "-S", "cli", "-S", "config",
            "--dir", f"{ROOT / 'models'}::/models", "--addr", f"127.0.0.1:{port}"]
    if reuse:
        args += ["--max-instance-reuse-count", "1000", "--idle-instance-timeout", "60s"]
    if spin:
        args += SPIN_ENGINE
    if not gate:
        args += ["--max-in-flight", "0"]
    return args + [str(wasm)]


def measure(bench, images: dict[str, Path], small: Path, args) -> dict:
    """Everything above; `bench` is bench.py (its Server, timing helpers)."""
    out: dict = {"e2e": {}, "fresh": {}}
    n = max(10, args.n // 2)

    class Portable(bench.Server):
        def __init__(self, wasm: Path, reuse: bool, env: dict | None = None, spin: bool = False,
                     gate: bool = True):
            self.port = bench.free_port()
            self.start(serve_args(wasm, self.port, reuse, spin, gate), os.environ | (env or {}))

    print("[bench] portable: end to end, instances reused", file=sys.stderr)
    with bench.running(Portable(PREINIT, reuse=True)) as server:
        bench.first_answer(server, small.read_bytes(), "image/jpeg")
        out["built_in"] = built_in = bench.get_json(server, "/warm")["model"]
        out["e2e"] = {name: bench.end_to_end(server, path, max(10, bench.requests(name, args) // 2))
                      for name, path in images.items()}
        # The other models, read from their folders by the same instances.
        out["others"] = {model: bench.end_to_end(server, small, n, f"/predict?model={model}")
                         for model in PROFILED if model != built_in}
    print("[bench] portable: a fresh instance per request", file=sys.stderr)
    for label, wasm in [("pre-initialised", PREINIT), ("code only", CODE_ONLY)]:
        with bench.running(Portable(wasm, reuse=False)) as server:
            bench.first_answer(server, small.read_bytes(), "image/jpeg")
            out["fresh"][label] = bench.end_to_end(server, small, n)
    if built_in != "nanodet":
        print("[bench] portable: NanoDet built in, reused and fresh", file=sys.stderr)
        subprocess.run(["bash", str(ROOT / "scripts" / "build-portable.sh")], check=True,
                       stdout=subprocess.DEVNULL,
                       env=os.environ | {"MODEL": "nanodet", "PORTABLE_OUT": str(PREINIT_NANODET)})
        out["nanodet_built_in"] = {}
        for label, reuse in [("instances reused", True), ("a fresh instance per request", False)]:
            with bench.running(Portable(PREINIT_NANODET, reuse=reuse)) as server:
                bench.first_answer(server, small.read_bytes(), "image/jpeg")
                out["nanodet_built_in"][label] = bench.end_to_end(server, small, n)
    print("[bench] portable: Spin's engine settings, reused and fresh", file=sys.stderr)
    out["spin"] = {}
    for label, reuse in [("instances reused", True), ("a fresh instance per request", False)]:
        with bench.running(Portable(PREINIT, reuse=reuse, spin=True)) as server:
            bench.first_answer(server, small.read_bytes(), "image/jpeg")
            out["spin"][label] = bench.end_to_end(server, small, n)

    print("[bench] portable: WASIp3 as Spin 4 runs it, WASIp2 as Spin 3 does", file=sys.stderr)
    out["spin4"] = spin4(bench, Portable, small, n, args)

    print("[bench] portable: first answer after start", file=sys.stderr)
    out["first_answer"] = first_answers(bench, Portable, small, args)
    print("[bench] portable: tract's profile, in the component and natively", file=sys.stderr)
    models = [built_in] + [m for m in PROFILED if m != built_in]
    out["profile"] = {model: {"component": component_profile(built_in, model),
                              "native": native_profile(model)} for model in models}
    out["size"] = {label: {"bytes": wasm.stat().st_size,
                           "gzip": len(gzip.compress(wasm.read_bytes(), 6))}
                   for label, wasm in [("code only", CODE_ONLY), ("pre-initialised", PREINIT)]}
    return out


# How long wasmtime keeps an idle instance for reuse (`--idle-instance-timeout`,
# default 1 s): a request after a longer pause gets a fresh instance.
IDLE_INSTANCE = 1.0


def spin4(bench, Portable, small: Path, n: int, args) -> dict:
    """Both builds under Spin's engine settings with no gate, as Spin serves
    them: the WASIp3 one reusing instances (Spin 4), the WASIp2 one with a
    fresh instance per request (Spin 3, and Spin 4 with a WASIp2 component)."""
    out = {}
    for label, wasm in [("WASIp3, Spin 4", PREINIT_P3), ("WASIp2, Spin 3", PREINIT)]:
        with bench.running(Portable(wasm, reuse=False, spin=True, gate=False)) as server:
            bench.first_answer(server, small.read_bytes(), "image/jpeg")
            row = out[label] = {"latency": bench.end_to_end(server, small, n)}
            # After a pause longer than the idle timeout: a new instance.
            image, samples = small.read_bytes(), []
            for _ in range(max(3, n // 3)):
                time.sleep(IDLE_INSTANCE * 1.5)
                start = time.perf_counter()
                bench.post(server.connect(), image, "image/jpeg")
                samples.append((time.perf_counter() - start) * 1e3)
            row["first_of_instance"] = bench.percentiles(samples)
            for c in (1, 2, 4):
                row[f"rps_{c}"] = bench.wrk.run(f"http://127.0.0.1:{server.port}/predict", small, c,
                                          args.seconds)
    return out


def first_answers(bench, Portable, small: Path, args) -> dict:
    """Server start to the first /predict answer (model load, optimisation
    and the first inference included), each artifact: with wasmtime's cache
    of compiled code empty (a first deploy), then filled (every later start)."""
    image = small.read_bytes()
    out = {}
    for label, wasm in [("pre-initialised", PREINIT), ("code only", CODE_ONLY)]:
        with tempfile.TemporaryDirectory() as cache:
            # wasmtime keeps compiled code under $XDG_CACHE_HOME/wasmtime: a
            # new, empty one for each artifact.
            env = {"XDG_CACHE_HOME": cache}
            samples = {"compiled cache empty": [], "compiled cache filled": []}
            for key in samples:
                runs = 1 if key == "compiled cache empty" else max(1, args.cold_runs)
                for _ in range(runs):
                    with bench.running(Portable(wasm, reuse=False, env=env)) as server:
                        samples[key].append(bench.first_answer(server, image, "image/jpeg") * 1e3)
            out[label] = {k: bench.percentiles(v) for k, v in samples.items()}
    return out


def component_profile(built_in: str, model: str, runs: int = 10) -> str:
    """The pre-initialised provider's own profile export, in wasmtime, of
    `model`: the built-in one, or one read from its folder."""
    done = subprocess.run(
        [str(HOST), "run", "-S", "cli", "--dir", f"{ROOT / 'models'}::/models",
         "--invoke", f'profile("{model}", {runs})', str(provider(built_in))],
        check=True, capture_output=True, text=True)
    text = done.stdout.strip()
    # WAVE prints the result as ok("...") with escaped newlines.
    if text.startswith('ok("') and text.endswith('")'):
        text = text[4:-2].encode().decode("unicode_escape")
    return text


def native_profile(model: str, runs: int = 10) -> str:
    """The same engine code compiled for this CPU (tract's native kernels)."""
    done = subprocess.run(
        ["cargo", "run", "--quiet", "--release", "--locked", "-p", "wasi-nn-tract",
         "--example", "profile", "--", str(ROOT / "models" / model / "model.onnx"), str(runs)],
        check=True, capture_output=True, text=True, cwd=ROOT)
    return done.stdout.strip()
