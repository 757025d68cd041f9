"""Private mode in `make bench`: the component in the visitor's browser
(jco, onnxruntime-web behind a wasi:nn shim), in headless Chromium on this
machine, measured by bench/browser.mjs against the real server:

- onnxruntime-web alone, the served build and model, on the small photo's
  input tensor (the reference's letterbox), threads on and off;
- `detector.detect` end to end, the same thread settings, per image, with
  the component's own steps (`detector.lastTiming`, its Server-Timing);
- CenterNet and coco-ssd the same way, threads on, the small photo only;
- the first visit (an empty cache) and the second: `import()` to `load()`
  resolved, and the bytes that came over the network, per file.

`make bench` runs it from bench.py; on its own (`bench/private.py`, the
project's Python) it prints its section of BENCHMARKS.md, against a server
it starts or, with `--base`, one already running.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "browser.mjs"
PLAYWRIGHT = ROOT / "tests" / "browser" / "node_modules" / "playwright-core"
LOCK = ROOT / "web" / "browser" / "package-lock.json"
# The server serves the three models; each is measured with its own input.
MODELS = "nanodet,centernet,coco-ssd"


def threads_on() -> int:
    """detector.js's default when cross-origin isolated: the cores, up to 4.
    (onnxruntime-web's own default is half the cores, 1 on 2 cores.)"""
    return min(4, os.cpu_count() or 1)


def ort_web_version() -> str:
    packages = json.loads(LOCK.read_text())["packages"]
    return packages["node_modules/onnxruntime-web"]["version"]


def measure(bench, images: dict[str, Path], args, base: str | None = None) -> dict:
    """Everything above; `bench` is bench.py (its Server and percentiles)."""
    if not PLAYWRIGHT.is_dir():
        raise RuntimeError(f"no {PLAYWRIGHT}: run `make browser-deps`")
    sys.path.insert(0, str(ROOT / "tests" / "reference"))
    import detect

    quick = getattr(args, "quick", False)
    fewer = (lambda n: max(5, n // 5)) if quick else (lambda n: n)
    work = bench.OUT / "private"
    work.mkdir(parents=True, exist_ok=True)
    small = images[bench.SMALL]
    canvas, _ = detect.letterbox(detect.load_image(small))
    tensors = {"nanodet": detect.model_input(canvas)}
    for model in ("centernet", "coco-ssd"):
        tensors[model] = bench.model_input(model, detect.load_image(small))
    for name, tensor in tensors.items():
        tensor.tofile(work / f"{name}.tensor")
    measured = [bench.SMALL, bench.LARGE, bench.PNG]
    image_list = [{"name": name, "path": str(images[name]), "type": bench.media_of(images[name]),
                   "runs": fewer(bench.requests(name, args))} for name in measured]

    def latency(model: str, threads: int, names: list[str]) -> dict:
        return {"model": model, "threads": threads, "tensor": str(work / f"{model}.tensor"),
                "shape": list(tensors[model].shape), "dtype": str(tensors[model].dtype),
                "images": [i for i in image_list if i["name"] in names]}

    config = {
        "warmup": {"ort": 3 if quick else 10, "e2e": 2 if quick else 5},
        "rounds": 2 if quick else 5,
        "ort_runs": fewer(args.n),
        "latency": [latency("nanodet", threads_on(), measured),
                    latency("nanodet", 1, measured),
                    latency("centernet", threads_on(), [bench.SMALL]),
                    latency("coco-ssd", threads_on(), [bench.SMALL])],
        "visits": {"threads": threads_on(), "model": "nanodet"},
    }

    def run_browser(url: str) -> dict:
        config["base"] = url
        (work / "config.json").write_text(json.dumps(config, indent=2))
        done = subprocess.run(["node", str(SCRIPT), str(work / "config.json")],
                              check=True, stdout=subprocess.PIPE, text=True)
        return json.loads(done.stdout)

    if base:
        raw = run_browser(base)
    else:
        with bench.serving("onnx", model=MODELS) as server:
            bench.first_answer(server, small.read_bytes(), "image/jpeg")
            raw = run_browser(f"http://127.0.0.1:{server.port}")
    (work / "raw.json").write_text(json.dumps(raw))
    return figures(bench, raw)


def figures(bench, raw: dict) -> dict:
    """Percentiles and step medians from browser.mjs's samples."""
    import statistics

    out = {"chromium": raw["chromium"], "cores": raw["cores"], "onnxruntime_web": ort_web_version(),
           "latency": [], "visits": []}
    for run in raw["latency"]:
        if run["page_errors"]:
            raise RuntimeError(f"errors in the page: {run['page_errors']}")
        if run["ort_threads"] != run["threads"]:
            raise RuntimeError(f"onnxruntime-web ran {run['ort_threads']} threads, not {run['threads']}")
        e2e = {}
        for image, samples in run["e2e"].items():
            steps = {}
            for timing in run["steps"][image]:
                for name, ms in timing.items():
                    steps.setdefault(name, []).append(ms)
            e2e[image] = bench.percentiles(samples) | {
                "steps": {k: statistics.median(v) for k, v in steps.items()},
                "detections": run["found"][image]}
        out["latency"].append({"model": run["model"], "threads": run["threads"],
                               "ort": bench.percentiles(run["ort"]), "e2e": e2e})
    for visit in raw["visits"]:
        out["visits"].append(visit | {"bytes": sum(f["bytes"] for f in visit["files"])})
    return out


def main(argv=None) -> int:
    sys.path.insert(0, str(ROOT / "bench"))
    import bench
    import report

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=int(os.environ.get("BENCH_N", 50)),
                   help="timed runs per image (default 50)")
    p.add_argument("--quick", action="store_true", help="fewer runs")
    p.add_argument("--base", help="measure this running server (e.g. http://127.0.0.1:8080) "
                   "instead of starting one; it must serve nanodet, centernet and coco-ssd")
    args = p.parse_args(argv)
    images = bench.make_images()
    with bench.cpu_lock():
        results = measure(bench, images, args, args.base)
    (bench.OUT / "private.json").write_text(json.dumps(results, indent=2))
    print("\n".join(report.private_section({"private": results})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
