#!/usr/bin/env python3
"""Checks the reference detector (detect.py) against the reference vectors.

For each entry of <vectors>/index.json:
  input       the letterboxed tensor detect.py makes from the fixture image
              equals the stored input tensor;
  postprocess the stored model outputs, post-processed, give the stored
              detections (score > 0.3, IoU 0.6);
  end-to-end  detect.py on the fixture image gives the same detections.
Prints one line per check and a closing "N passed, N failed"; exits 1 on any
failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, str(Path(__file__).resolve().parent))
import detect  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VECTORS = ROOT / "tests" / "vectors"
FIXTURES = ROOT / "tests" / "fixtures"
THRESHOLD = 0.3
KEY = "detections_score_thr_0.3_iou_0.6"


def tensor(folder: Path, spec: dict) -> np.ndarray:
    return np.fromfile(folder / spec["file"], dtype="<f4").reshape(spec["shape"])


def same_detections(got: list[dict], want: list[dict]) -> str | None:
    """None if equal up to the rounding of index.json, else the difference."""
    if [d["class"] for d in got] != [d["class"] for d in want]:
        return f"classes {[d['class'] for d in got]} != {[d['class'] for d in want]}"
    for g, w in zip(got, want):
        if abs(g["score"] - w["score"]) > 2e-4:
            return f"{g['class']}: score {g['score']} != {w['score']}"
        if max(abs(a - b) for a, b in zip(g["bbox"], w["box_xyxy"])) > 0.02:
            return f"{g['class']}: box {g['bbox']} != {w['box_xyxy']}"
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=detect.DEFAULT_MODEL)
    ap.add_argument("--vectors", type=Path, default=DEFAULT_VECTORS)
    a = ap.parse_args(argv)

    index = json.loads((a.vectors / "index.json").read_text())
    det = detect.Detector(a.model)
    passed = failed = 0

    def report(name, what, problem):
        nonlocal passed, failed
        if problem is None:
            passed += 1
            print(f"ok    {name:10s} {what}")
        else:
            failed += 1
            print(f"FAIL  {name:10s} {what}: {problem}")

    for name, e in sorted(index.items()):
        image = FIXTURES / e["image"]
        canvas, lb = detect.letterbox(detect.load_image(image))
        diff = float(np.abs(detect.to_tensor(canvas) - tensor(a.vectors, e["input"])).max())
        report(name, "input", None if diff < 1e-5 else f"max abs diff {diff:.3g}")

        want = e[KEY]
        got = detect.postprocess(tensor(a.vectors, e["scores"]), tensor(a.vectors, e["box_dist"]),
                                 lb, THRESHOLD, 100, det.labels)
        report(name, "postprocess", same_detections(got, want))

        got = det.detect(image, THRESHOLD, 100)["detections"]
        report(name, "end-to-end", same_detections(got, want))

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
