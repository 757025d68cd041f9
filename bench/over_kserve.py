"""The build over a v2 server in `make bench` (dist/wasi-detect-kserve.wasm):
the detector with provider-kserve inside, without wasi-nn, against a real
KServe server on loopback (kserve/server.py: ONNX Runtime behind PyPI
kserve), measured in the same run as the native build on the same photo
and model (NanoDet, 640x480 JPEG):

- the native build end to end, and its requests/s at 1, 2 and 4 connections;
  and with a fresh instance per request, what that costs without a server;
- the build over the server end to end, instances reused (the model's
  metadata read once) and a fresh instance per request as Spin runs it
  (Spin's engine settings; the metadata read in every request), and its
  requests/s at 1, 2 and 4 connections, fresh instances;
- the same against `wasi-detect-host v2`, the host's ONNX Runtime behind
  the v2 protocol (no Python in the server);
- each server alone: the same binary request from Python, no component;
- the bytes of one request and its answer (tests/kserve/faulty.py records
  them on the way).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WASM = ROOT / "dist" / "wasi-detect-kserve.wasm"
MODEL = "nanodet"


def python() -> str:
    return subprocess.run(["bash", str(ROOT / "scripts" / "python-env.sh"),
                           str(ROOT / "kserve" / "requirements.txt")],
                          check=True, capture_output=True, text=True).stdout.strip()


class V2Server:
    """kserve/server.py with NanoDet on a free port; `host`:
    `wasi-detect-host v2` instead, the host's ONNX Runtime behind the same
    protocol."""

    def __init__(self, bench, host: bool = False):
        self.port = bench.free_port()
        if host:
            command = [str(ROOT / "target" / "host" / "wasi-detect-host"), "v2",
                       "--addr", f"127.0.0.1:{self.port}",
                       "--model", f"{MODEL}={ROOT / 'models' / MODEL}"]
        else:
            command = [python(), str(ROOT / "kserve" / "server.py"),
                       "--models-dir", str(ROOT / "models"), "--port", str(self.port),
                       "--model", MODEL]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/v2/health/ready")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError("kserve/server.py exited")
            time.sleep(0.2)
        raise RuntimeError("kserve/server.py was not ready in 120 s")

    def stop(self):
        self.process.terminate()
        self.process.wait()


def alone(port: int, tensor, n: int, bench) -> dict:
    """The server alone: NanoDet's tensor in one binary infer request from
    Python over a kept-alive connection, as the provider sends it."""
    data = tensor.tobytes()
    datatype = {"float32": "FP32", "uint8": "UINT8"}[str(tensor.dtype)]
    header = json.dumps({"inputs": [{"name": "input", "shape": list(tensor.shape),
                                     "datatype": datatype,
                                     "parameters": {"binary_data_size": len(data)}}],
                         "parameters": {"binary_data_output": True}}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    samples = []
    for i in range(n + 5):
        start = time.perf_counter()
        conn.request("POST", f"/v2/models/{MODEL}/infer", body=header + data,
                     headers={"inference-header-content-length": str(len(header)),
                              "content-type": "application/octet-stream"})
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
        if i >= 5:
            samples.append((time.perf_counter() - start) * 1e3)
    return bench.percentiles(samples)


def wire_bytes(bench, port: int, small: Path) -> dict:
    """One request through tests/kserve/faulty.py in `record` mode: the
    bodies the provider sent and got."""
    proxy_port = bench.free_port()
    with tempfile.TemporaryDirectory() as record:
        proxy = subprocess.Popen([python(), str(ROOT / "tests" / "kserve" / "faulty.py"),
                                  str(proxy_port), str(port), record],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            proxy.stdout.readline()
            proxy.stdin.write("record\n")
            proxy.stdin.flush()
            proxy.stdout.readline()
            with bench.running(Over(bench, proxy_port, reuse=True)) as server:
                bench.first_answer(server, small.read_bytes(), "image/jpeg")
            sizes = {name: (Path(record) / f"{name}.bin").stat().st_size
                     for name in ("request", "answer")}
        finally:
            proxy.kill()
            proxy.wait()
    return sizes


class Over:
    """The build over the v2 server at `port` under `wasmtime serve`
    without wasi-nn (bench/portable.py's serve_args: as Spin runs it). With
    `spin`, no admission gate either, as on Spin: the gate admits one request
    per core, which suits requests that compute in the instance, while these
    mostly wait for the server (measured alone, 4 connections, fresh
    instances: 47-49 requests/s behind the gate, 55-57 without)."""

    def __new__(cls, bench, port: int, reuse: bool, spin: bool = False):
        import portable

        class Served(bench.Server):
            def __init__(self):
                self.port = bench.free_port()
                args = portable.serve_args(WASM, self.port, reuse, spin, gate=not spin)
                args[-1:-1] = ["-S", f"config-var=inference_url=http://127.0.0.1:{port}",
                               "-S", f"config-var=model={MODEL}"]
                self.start(args, os.environ.copy())

        return Served()


# Spin's engine settings (bench/portable.py).
SPIN_ENGINE = ["-W", "timeout=30s", "-O", "pooling-allocator=y"]


def measure(bench, small: Path, tensor, args) -> dict:
    """Everything above; `bench` is bench.py (its Server, timing helpers)."""
    out: dict = {}
    n = args.n
    print("[bench] over a v2 server: the native build, end to end and requests/s", file=sys.stderr)
    with bench.serving("onnx") as server:
        bench.first_answer(server, small.read_bytes(), "image/jpeg")
        out["native"] = {"e2e": bench.end_to_end(server, small, n)}
        for c in (1, 2, 4):
            out["native"][f"rps_{c}"] = bench.wrk.run(
                f"http://127.0.0.1:{server.port}/predict", small, c, args.seconds)
    # What a fresh instance per request costs any build, without a server
    # between: the native build served so (scripts/serve.sh's reuse count 1).
    with bench.serving("onnx", args=SPIN_ENGINE, reuse=1) as server:
        bench.first_answer(server, small.read_bytes(), "image/jpeg")
        out["native fresh"] = {"e2e": bench.end_to_end(server, small, n)}
    for key, host in [("kserve", False), ("host", True)]:
        name = "wasi-detect-host v2" if host else "KServe"
        v2 = V2Server(bench, host)
        try:
            print(f"[bench] over {name}: the server alone", file=sys.stderr)
            row = out[key] = {"server_alone": alone(v2.port, tensor, n, bench)}
            print(f"[bench] over {name}: end to end, reused and fresh instances", file=sys.stderr)
            for label, reuse in [("instances reused", True), ("a fresh instance per request", False)]:
                with bench.running(Over(bench, v2.port, reuse=reuse, spin=not reuse)) as server:
                    bench.first_answer(server, small.read_bytes(), "image/jpeg")
                    served = row[label] = {"e2e": bench.end_to_end(server, small, n)}
                    if not reuse:
                        for c in (1, 2, 4):
                            served[f"rps_{c}"] = bench.wrk.run(
                                f"http://127.0.0.1:{server.port}/predict", small, c, args.seconds)
            if not host:
                out["wire"] = wire_bytes(bench, v2.port, small)
        finally:
            v2.stop()
    out["size"] = WASM.stat().st_size
    return out


if __name__ == "__main__":
    # A quick look without the rest of `make bench`: python bench/over_kserve.py [n]
    sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "scripts")]
    import bench as b
    from types import SimpleNamespace

    images = b.make_images()
    small = images[b.SMALL]
    canvas, _ = b.detect.letterbox(b.detect.load_image(small))
    result = measure(b, small, b.detect.model_input(canvas),
                     SimpleNamespace(n=int(sys.argv[1]) if len(sys.argv) > 1 else 30, seconds=5))
    print(json.dumps(result, indent=1))
