#!/usr/bin/env python3
"""`make bench`: the detector against the bare engine, in one run.

On this machine, with the same model files and the same images:
- the engine alone (ONNX Runtime 1.22, the library the host links; OpenVINO),
  model-only latency after warm-up;
- end to end through the real host and component over HTTP, warm, per image,
  and its ratio to the engine alone;
- the same requests to bench/peer.py, the plain Python server (http.server,
  Pillow, ONNX Runtime) a user would compare us with, and to
  bench/node-peer/peer.mjs, the Node.js server a web developer would write
  (node:http, sharp, onnxruntime-node): latency per image, its requests/s at
  1, 2 and 4 connections, and its answers against ours;
- where the time goes inside the component (its Server-Timing header);
- cold start: server start to first answer, with and without a precompiled
  component, and the first /predict after /warm;
- throughput at 1, 2 and 4 connections (wrk) and a lone request's latency
  with the host's ONNX settings (its adaptive default, and the fixed pools
  of --onnx-sessions and --onnx-threads), the host's RSS;
- the component's linear memory after one request of each image;
- the component's size;
- the portable build (tract inside, as Spin runs it): bench/portable.py;
- the build over a KServe v2 server against the native build: bench/over_kserve.py;
- private mode, the component in headless Chromium on onnxruntime-web:
  bench/private.py (bench/browser.mjs).

Holds the machine's benchmark lock (/tmp/wasi-detect-bench.lock, flock)
while it runs, so that other work taking it waits.

Writes BENCHMARKS.md, docs/bench.svg and target/bench/results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gzip
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "reference"))
sys.path.insert(0, str(ROOT / "scripts"))
import detect  # noqa: E402  the reference pre-processing
import wrk  # noqa: E402

OUT = ROOT / "target" / "bench"
HOST = ROOT / "target" / "host" / "wasi-detect-host"
WASM = ROOT / "dist" / "wasi-detect.wasm"
PEER = ROOT / "bench" / "peer.py"
NODE_PEER_SETUP = ROOT / "scripts" / "node-peer.sh"
BACKENDS = {"onnx": "nanodet", "openvino": "nanodet-ov"}
# The other models, measured the same way (their folders per backend).
OTHER_MODELS = {
    "centernet": {"onnx": "centernet", "openvino": "centernet-ov"},
    "coco-ssd": {"onnx": "coco-ssd", "openvino": "coco-ssd-ov"},
}
SMALL, LARGE, PNG = "photo 640x480 JPEG", "phone 4000x3000 JPEG", "photo 741x500 PNG"
PROGRESSIVE = "photo 741x500 progressive JPEG"
ROTATED = "phone 4000x3000 JPEG, EXIF 6"
# 12-megapixel photos take longer a request than the others: fewer of them.
MEGAPIXELS_12 = (LARGE, ROTATED)
# The machine's benchmark lock: whoever measures holds it (flock), so that
# two measurements never share the cores.
LOCK = Path("/tmp/wasi-detect-bench.lock")
_held = []


@contextlib.contextmanager
def cpu_lock():
    """Holds LOCK (an exclusive flock), waiting for it if someone else has
    it; re-entrant within this process."""
    if _held:
        yield
        return
    with open(LOCK, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[bench] waiting for {LOCK} (another measurement holds it)", file=sys.stderr)
            fcntl.flock(f, fcntl.LOCK_EX)
        _held.append(f)
        try:
            yield
        finally:
            _held.pop()
            fcntl.flock(f, fcntl.LOCK_UN)


# --- images -----------------------------------------------------------------

def make_images() -> dict[str, Path]:
    """The benchmark images, made from the test photos (deterministic)."""
    OUT.mkdir(parents=True, exist_ok=True)
    src = Image.open(ROOT / "tests" / "fixtures" / "motorcycle_left.png").convert("RGB")
    images = {}
    # A small photo, 640x480: the common web upload.
    small = src.crop((37, 0, 704, 500)).resize((640, 480), Image.Resampling.LANCZOS)
    images[SMALL] = OUT / "small.jpg"
    small.save(images[SMALL], quality=90)
    # A 12-megapixel phone photo (4000x3000), under the 5 MB limit.
    large = src.crop((37, 0, 704, 500)).resize((4000, 3000), Image.Resampling.BICUBIC)
    images[LARGE] = OUT / "large.jpg"
    large.save(images[LARGE], quality=80)
    assert images[LARGE].stat().st_size < 5 * 1024 * 1024
    # The same photo taken by a phone held upright: the sensor's 4000x3000
    # pixels are stored as they came, and EXIF orientation 6 turns them to
    # the upright 3000x4000 portrait on display. The portrait frame is the
    # photo's middle, the motorcycle's front.
    upright = src.crop((183, 0, 558, 500)).resize((3000, 4000), Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    images[ROTATED] = OUT / "large-exif6.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(images[ROTATED], quality=80, exif=exif)
    assert images[ROTATED].stat().st_size < 5 * 1024 * 1024
    with Image.open(images[ROTATED]) as stored:
        assert stored.size == (4000, 3000)
        shown = ImageOps.exif_transpose(stored)
    # Upright on display: the JPEG's loss only, not a picture turned a quarter.
    assert shown.size == upright.size
    error = np.abs(np.asarray(shown.reduce(8), np.float32)
                   - np.asarray(upright.reduce(8), np.float32)).mean()
    assert error < 4, f"{images[ROTATED]} is not upright on display (mean error {error:.1f})"
    # The PNG's photo as a progressive JPEG, as many web images are: each
    # scan of coefficients decoded in turn, with no shortcut at this size.
    images[PROGRESSIVE] = OUT / "progressive.jpg"
    src.save(images[PROGRESSIVE], quality=90, progressive=True)
    with Image.open(images[PROGRESSIVE]) as stored:
        assert stored.info.get("progressive"), f"{images[PROGRESSIVE]} is not progressive"
    images[PNG] = ROOT / "tests" / "fixtures" / "motorcycle_left.png"
    return images


# --- the engines alone -------------------------------------------------------

def percentiles(samples: list[float]) -> dict:
    a = np.array(samples)
    return {"n": len(samples), "p50": float(np.percentile(a, 50)),
            "p90": float(np.percentile(a, 90)), "p99": float(np.percentile(a, 99))}


def native(backend: str, tensor: np.ndarray, n: int, folder: str | None = None) -> dict:
    """Model-only latency of the engine itself, default settings as the host's."""
    model = ROOT / "models" / (folder or BACKENDS[backend])
    if backend == "onnx":
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(model / "model.onnx"), options,
                                       providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        run = lambda: session.run(None, {name: tensor})  # noqa: E731
        version = ort.__version__
    else:
        import openvino as ov
        compiled = ov.Core().compile_model(str(model / "model.xml"), "CPU")
        request = compiled.create_infer_request()
        run = lambda: request.infer({0: tensor})  # noqa: E731
        version = ov.__version__
    for _ in range(10):
        run()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1e3)
    return percentiles(samples) | {"version": version}


# --- the server ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """scripts/serve.sh on a free port; `started` is when the process began."""

    def __init__(self, backend: str, wasm: Path = WASM, args: list[str] = (),
                 model: str | None = None, reuse: int = 1000):
        self.port = free_port()
        # One model at a time (NanoDet unless told): the figures are its own,
        # and a second model preloaded would add its load to the cold start.
        # `reuse`: requests an instance takes (1: a fresh one for each).
        env = os.environ | {"PORT": str(self.port), "BACKEND": backend, "WASM": str(wasm),
                            "MODELS": model or BACKENDS[backend], "MAX_INSTANCE_REUSE": str(reuse)}
        self.start(["bash", str(ROOT / "scripts" / "serve.sh"), *args], env)

    def start(self, command: list[str], env: dict | None = None):
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def host_pid(self) -> int:
        # serve.sh execs the host, so it is the same process.
        return self.process.pid

    def stop(self):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, 15)
        self.process.wait()


class Peer(Server):
    """bench/peer.py on a free port: the plain Python server, ONNX Runtime."""

    def __init__(self):
        self.port = free_port()
        self.start([sys.executable, str(PEER), "--port", str(self.port),
                    "--model", str(ROOT / "models" / BACKENDS["onnx"] / "model.onnx")])


class NodePeer(Server):
    """bench/node-peer/peer.mjs on a free port: node:http, sharp,
    onnxruntime-node."""

    def __init__(self):
        self.port = free_port()
        script = subprocess.run(["bash", str(NODE_PEER_SETUP)], check=True,
                                capture_output=True, text=True).stdout.strip()
        self.start(["node", script, "--port", str(self.port),
                    "--model", str(ROOT / "models" / BACKENDS["onnx"] / "model.onnx")])


def answers(server: Server, images: dict[str, Path]) -> dict[str, list]:
    """Each image's /predict answer from `server`."""
    conn = server.connect()
    return {name: json.loads(post(conn, path.read_bytes(), media_of(path))[1])
            for name, path in images.items()}


def agreement(ours: dict[str, list], peer: dict[str, list]) -> dict[str, dict]:
    """Per image: how many detections each found, how many pair up (same
    class, greedily by IoU), the worst IoU and score difference of a pair."""
    def corners(d):
        (a, b) = d["bbox"]
        return [a["x"], a["y"], b["x"], b["y"]]

    def iou(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
        return iw * ih / union if union > 0 else 0.0

    out = {}
    for image, mine in ours.items():
        theirs, pairs = list(peer[image]), []
        for d in mine:
            same = [t for t in theirs if t["class"] == d["class"]]
            best = max(same, key=lambda t: iou(corners(d), corners(t)), default=None)
            if best is not None and iou(corners(d), corners(best)) > 0.5:
                theirs.remove(best)
                pairs.append((iou(corners(d), corners(best)), abs(d["score"] - best["score"])))
        out[image] = {"ours": len(mine), "peer": len(peer[image]), "paired": len(pairs),
                      "min_iou": min((p[0] for p in pairs), default=None),
                      "max_score_diff": max((p[1] for p in pairs), default=None)}
    return out


@contextlib.contextmanager
def running(server: Server):
    try:
        yield server
    finally:
        server.stop()


def serving(*args, **kwargs):
    return running(Server(*args, **kwargs))


def post(conn: http.client.HTTPConnection, image: bytes, media: str, path: str = "/predict"):
    conn.request("POST", path, body=image, headers={"content-type": media})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"/predict answered {r.status}: {body[:200]!r}")
    return r, body


def first_answer(server: Server, image: bytes, media: str) -> float:
    """Seconds from the server's start to its first /predict answer."""
    while True:
        try:
            post(server.connect(), image, media)
            return time.perf_counter() - server.started
        except (ConnectionError, OSError):
            if server.process.poll() is not None:
                raise RuntimeError("the server exited")
            time.sleep(0.002)


def server_timing(header: str) -> dict[str, float]:
    steps = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            steps[name] = float(dur)
    return steps


def media_of(path: Path) -> str:
    return "image/png" if path.suffix == ".png" else "image/jpeg"


def end_to_end(server: Server, path: Path, n: int, route: str = "/predict") -> dict:
    """Warm latency over one keep-alive connection (to `route`), and the
    step medians (none for the peer, which sends no Server-Timing)."""
    image, media = path.read_bytes(), media_of(path)
    conn = server.connect()
    for _ in range(5):
        post(conn, image, media, route)
    samples, steps = [], {}
    for _ in range(n):
        start = time.perf_counter()
        r, _ = post(conn, image, media, route)
        samples.append((time.perf_counter() - start) * 1e3)
        for name, ms in server_timing(r.getheader("server-timing", "")).items():
            steps.setdefault(name, []).append(ms)
    result = percentiles(samples)
    result["steps"] = {k: statistics.median(v) for k, v in steps.items()}
    return result


def get_json(server: Server, path: str) -> dict:
    conn = server.connect()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"{path} answered {r.status}: {body[:200]!r}")
    return json.loads(body)


def peak_memory(images: dict[str, Path]) -> dict[str, int]:
    """The component's linear memory after one request of each image, in bytes
    (/warm's `memory_bytes`), and before any. It only grows, so each image
    gets a fresh server, and one request in flight keeps the request and
    /warm in one instance (as tests/memory.rs)."""
    peaks = {}
    for name, path in {"/warm alone, no image": None, **images}.items():
        with serving("onnx", args=["--max-in-flight", "1"]) as server:
            if path is not None:
                first_answer(server, path.read_bytes(), media_of(path))
            while True:
                try:
                    peaks[name] = get_json(server, "/warm")["memory_bytes"]
                    break
                except (ConnectionError, OSError):
                    if server.process.poll() is not None:
                        raise RuntimeError("the server exited")
                    time.sleep(0.002)
    return peaks


class RssSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_mb, self.done = pid, 0.0, threading.Event()

    def run(self):
        while not self.done.is_set():
            with contextlib.suppress(FileNotFoundError, ValueError):
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)
            self.done.wait(0.2)


# --- the run -------------------------------------------------------------------

def run(args) -> dict:
    images = make_images()
    small = images[SMALL]
    canvas, _ = detect.letterbox(detect.load_image(small))
    tensor = detect.model_input(canvas)
    results = {
        "machine": machine(),
        "images": {k: image_facts(v) for k, v in images.items()},
        "native": {}, "e2e": {}, "cold": {}, "throughput": {},
    }
    backends = ["onnx", "openvino"] if not args.quick else ["onnx"]
    for backend in backends:
        print(f"[bench] {backend}: the engine alone", file=sys.stderr)
        results["native"][backend] = native(backend, tensor, args.n)
        print(f"[bench] {backend}: end to end", file=sys.stderr)
        with serving(backend) as server:
            first_answer(server, small.read_bytes(), "image/jpeg")
            results["e2e"][backend] = {name: end_to_end(server, path, requests(name, args))
                                       for name, path in images.items()}

    print("[bench] CenterNet and coco-ssd: the engine alone and end to end", file=sys.stderr)
    results["models"] = other_models(backends, images, args)

    if not args.quick:
        import portable
        results["portable"] = portable.measure(sys.modules[__name__], images, small, args)
        import over_kserve
        results["kserve"] = over_kserve.measure(sys.modules[__name__], small, tensor, args)

    print("[bench] private mode: onnxruntime-web alone and end to end in Chromium", file=sys.stderr)
    import private
    results["private"] = private.measure(sys.modules[__name__], images, args)

    # After our servers stopped, so that nothing else runs beside it.
    print("[bench] the Python peer (ONNX Runtime): end to end", file=sys.stderr)
    with running(Peer()) as peer:
        first_answer(peer, small.read_bytes(), "image/jpeg")
        results["peer"] = {name: end_to_end(peer, path, requests(name, args))
                           for name, path in images.items()}
    print("[bench] the Node.js peer (sharp, onnxruntime-node)", file=sys.stderr)
    results["node_peer"] = node_peer(images, small, args)
    print("[bench] linear memory per image", file=sys.stderr)
    results["memory"] = peak_memory(images)

    print("[bench] the component's steps natively (criterion)", file=sys.stderr)
    results["criterion"] = criterion(args)
    print("[bench] cold start", file=sys.stderr)
    results["cold"] = cold_start(small, args)
    print("[bench] throughput", file=sys.stderr)
    results["throughput"] = throughput(small, args)
    results["size"] = {"bytes": WASM.stat().st_size,
                       "gzip": len(gzip.compress(WASM.read_bytes(), 9))}
    return results


def model_input(model: str, img: Image.Image) -> np.ndarray:
    """The input tensor of OTHER_MODELS' `model` for a photo: CenterNet's
    letterbox (tests/reference/centernet.py), coco-ssd's whole frame at
    300x300, NHWC, values 0..255 (Pillow's bilinear here: the engine's time
    does not depend on the pixels)."""
    if model == "centernet":
        import centernet as reference  # tests/reference/centernet.py
        tensor = reference.to_input(img)[0]
    else:
        stretched = img.convert("RGB").resize((300, 300), Image.Resampling.BILINEAR)
        tensor = np.asarray(stretched, np.float32)[None]
    # The pixel values, as the type the model's manifest says it takes.
    manifest = json.loads((ROOT / "models" / model / "manifest.json").read_text())
    return tensor.astype(np.uint8 if manifest["input"]["dtype"] == "uint8" else np.float32)


def other_models(backends: list[str], images: dict[str, Path], args) -> dict:
    """The other models as NanoDet above: each one's engine alone on the
    small photo's input tensor, end to end per image with a server that
    serves it alone."""
    out = {}
    for model, folders in OTHER_MODELS.items():
        tensor = model_input(model, detect.load_image(images[SMALL]))
        out[model] = {}
        for backend in backends:
            runs = out[model][backend] = {"native": native(backend, tensor, args.n, folders[backend])}
            with serving(backend, model=folders[backend]) as server:
                first_answer(server, images[SMALL].read_bytes(), "image/jpeg")
                runs["e2e"] = {name: end_to_end(server, path, requests(name, args))
                               for name, path in images.items()}
    return out


def image_facts(path: Path) -> dict:
    with Image.open(path) as img:
        return {"path": str(path.relative_to(ROOT)), "bytes": path.stat().st_size,
                "size": "x".join(map(str, img.size)),
                "displayed": "x".join(map(str, detect.displayed_size(img)))}


def requests(image: str, args) -> int:
    """Timed requests for an image: fewer of the slow 12-megapixel ones."""
    return max(10, args.n // 4) if image in MEGAPIXELS_12 else args.n


def criterion(args) -> dict[str, float]:
    """benches/pipeline.rs: median time of each step in ms, natively."""
    quick = ["--quick"] if args.quick else []
    subprocess.run(["cargo", "bench", "--locked", "--bench", "pipeline", "--", *quick],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    medians = {}
    for bench in (ROOT / "target" / "criterion").glob("*/new/benchmark.json"):
        name = json.loads(bench.read_text())["full_id"]
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        medians[name] = estimates["median"]["point_estimate"] / 1e6
    return dict(sorted(medians.items()))


def cold_start(small: Path, args) -> dict:
    image = small.read_bytes()
    cwasm = OUT / "wasi_detect.cwasm"
    subprocess.run([str(HOST), "compile", "-o", str(cwasm), str(WASM)], check=True)
    cold = {}
    for label, wasm, extra in [("component (.wasm)", WASM, []),
                               ("precompiled (.cwasm)", cwasm, ["--allow-precompiled"])]:
        starts = []
        for _ in range(args.cold_runs):
            with serving("onnx", wasm=wasm, args=extra) as server:
                starts.append(first_answer(server, image, "image/jpeg") * 1e3)
        cold[label] = percentiles(starts)
    # The first /predict of an instance /warm has prepared, against a warm one.
    after_warm = []
    for _ in range(args.cold_runs):
        with serving("onnx", args=["--max-in-flight", "1"]) as server:
            while True:
                with contextlib.suppress(ConnectionError, OSError):
                    conn = server.connect()
                    conn.request("GET", "/warm")
                    conn.getresponse().read()
                    break
                time.sleep(0.002)
            start = time.perf_counter()
            post(conn, image, "image/jpeg")
            after_warm.append((time.perf_counter() - start) * 1e3)
    cold["first /predict after /warm"] = percentiles(after_warm)
    return cold


# The host's ways to run an engine, as (backend, host flags): ONNX Runtime's
# default (adaptive: a lone inference on every core, inferences that meet on
# one core each; "default" is what the peers' and targets' comparisons
# read), one session on every core (the lowest latency alone, inferences
# queue: the default before), one session per core with one thread each;
# and OpenVINO's default.
SETTINGS = {
    "default": ("onnx", []),
    "one session, every core": ("onnx", ["--onnx-sessions", "1"]),
    "one thread per session": ("onnx", ["--onnx-sessions", str(os.cpu_count() or 1),
                                        "--onnx-threads", "1"]),
    "OpenVINO, default": ("openvino", []),
}


def throughput(small: Path, args) -> dict:
    out = {}
    for name, (backend, host_args) in SETTINGS.items():
        rows = out[name] = {"args": " ".join(host_args), "backend": backend}
        with serving(backend, args=host_args) as server:
            first_answer(server, small.read_bytes(), "image/jpeg")
            rows["lone"] = end_to_end(server, small, args.n)
            sampler = RssSampler(server.host_pid())
            sampler.start()
            for c in (1, 2, 4):
                rows[str(c)] = wrk.run(f"http://127.0.0.1:{server.port}/predict", small, c,
                                       args.seconds)
            sampler.done.set()
            sampler.join()
            rows["peak_rss_mb"] = sampler.peak_mb
    return out


def node_peer(images: dict[str, Path], small: Path, args) -> dict:
    """The Node.js peer as ours: latency per image, requests/s at 1, 2 and 4
    connections; and its answers against ours on every image."""
    out: dict = {}
    with running(NodePeer()) as peer:
        first_answer(peer, small.read_bytes(), "image/jpeg")
        out["e2e"] = {name: end_to_end(peer, path, requests(name, args))
                      for name, path in images.items()}
        out["throughput"] = {str(c): wrk.run(f"http://127.0.0.1:{peer.port}/predict", small, c,
                                             args.seconds) for c in (1, 2, 4)}
        theirs = answers(peer, images)
    with serving("onnx") as server:
        first_answer(server, small.read_bytes(), "image/jpeg")
        out["agreement"] = agreement(answers(server, images), theirs)
    return out


def machine() -> dict:
    cpu, flags = "unknown", []
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = [f for f in line.split(":", 1)[1].split() if f.startswith(("avx", "fma"))]
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.platform(), "flags": flags}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=int(os.environ.get("BENCH_N", 50)),
                   help="timed requests per image (default 50)")
    p.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 10)),
                   help="seconds of wrk per concurrency (default 10)")
    p.add_argument("--cold-runs", type=int, default=5)
    p.add_argument("--quick", action="store_true",
                   help="ONNX Runtime only, no portable build, fewer runs in the browser")
    args = p.parse_args(argv)
    with cpu_lock():
        results = run(args)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    import report
    report.write(results, ROOT / "BENCHMARKS.md", ROOT / "docs" / "bench.svg")
    print((ROOT / "BENCHMARKS.md").read_text())
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
