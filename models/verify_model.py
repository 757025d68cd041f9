#!/usr/bin/env python3
"""Checks a converted model against the reference test vectors.

For each entry of <vectors>/index.json: feeds the stored input tensor (or, to a
model with a uint8 input, the pixels it was normalised from) to the
model (`model.onnx` in ONNX Runtime, or OpenVINO IR `model.xml` in OpenVINO,
computing in float32) and compares both outputs with the stored ones. Exits 1
if any maximum absolute difference reaches the tolerance (1e-4: a faithful
float32 conversion differs only by the order of floating-point sums).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import convert_nanodet

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VECTORS = ROOT / "tests" / "vectors"
DEFAULT_MODEL = ROOT / "models" / "nanodet" / "model.onnx"


# NanoDet's normalisation, the reference input's: `(pixel - mean) / std`,
# as the conversion puts it in the graph (a wrong one would not give back
# whole pixel values, which `pixels` checks).
MEAN = np.array(convert_nanodet.MEAN_BGR, np.float32).reshape(1, 3, 1, 1)
STD = np.array(convert_nanodet.STD_BGR, np.float32).reshape(1, 3, 1, 1)


def load_tensor(folder: Path, spec: dict) -> np.ndarray:
    return np.fromfile(folder / spec["file"], dtype="<f4").reshape(spec["shape"])


def pixels(x: np.ndarray) -> np.ndarray:
    """The 8-bit pixels a reference input was normalised from, for a model
    that takes them as uint8 and normalises in its graph."""
    p = x * STD + MEAN
    if np.abs(p - np.round(p)).max() > 1e-3:
        sys.exit("the reference input is not 8-bit pixels normalised")
    return np.round(p).astype(np.uint8)


def onnx_runner(model: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    inputs = [i.name for i in sess.get_inputs()]
    if inputs != ["input"]:
        sys.exit(f"model inputs {inputs}, expected ['input']")
    uint8 = sess.get_inputs()[0].type == "tensor(uint8)"
    return lambda x: sess.run(["scores", "box_dist"], {"input": pixels(x) if uint8 else x})


def openvino_runner(model: Path):
    import openvino as ov

    # float32 whatever the CPU: bf16 would move the outputs by up to ~1e-2.
    compiled = ov.Core().compile_model(str(model), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()

    uint8 = compiled.input("input").get_element_type() == ov.Type.u8

    def run(x):
        out = request.infer({"input": pixels(x) if uint8 else x})
        return (out[compiled.output("scores")].copy(), out[compiled.output("box_dist")].copy())
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--vectors", type=Path, default=DEFAULT_VECTORS)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args(argv)

    index = json.loads((a.vectors / "index.json").read_text())
    run = openvino_runner(a.model) if a.model.suffix == ".xml" else onnx_runner(a.model)

    worst, ok = 0.0, True
    for name, entry in sorted(index.items()):
        x = load_tensor(a.vectors, entry["input"])
        scores, box_dist = run(x)
        for out, got in (("scores", scores), ("box_dist", box_dist)):
            want = load_tensor(a.vectors, entry[out])
            if got.shape != want.shape:
                print(f"{name} {out}: shape {list(got.shape)}, expected {list(want.shape)}")
                ok = False
                continue
            diff = float(np.max(np.abs(got - want)))
            worst = max(worst, diff)
            verdict = "ok" if diff < a.tolerance else "FAIL"
            ok &= diff < a.tolerance
            print(f"{name:10s} {out:9s} max abs diff {diff:.3e}  {verdict}")
    print(f"{'model matches' if ok else 'MODEL DIFFERS FROM'} the reference vectors "
          f"(worst {worst:.3e}, tolerance {a.tolerance:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
