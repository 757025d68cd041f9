#!/usr/bin/env python3
"""Checks a CenterNet conversion against the TF.js graph model it came from.

The reference is the original `centernet.json` + `centernet.bin` run by
TensorFlow.js (npm @tensorflow/tfjs, its pure-JS CPU backend, under Node.js:
models/tfjs/run_graph.js) on the input tensors of a few fixture photos,
preprocessed as tests/reference/centernet.py does. The model under test is
`model.onnx` in ONNX Runtime or OpenVINO IR `model.xml` in OpenVINO
(computing in float32), and three tensors are compared:

    keypoints   [1,128,128,80]  class heatmaps (inside the model: tower_0/Sigmoid)
    wh          [1,128,128,4]   box sides, input pixels (inside: tower_0/mul)
    detections  [1,100,6]       the model's output

Each must differ from TF.js by less than the tolerance (1e-4) at most, with
pixel quantities (wh, the boxes of detections) in units of the input's side
(512 pixels, as @vladmandic/human reads them): float32 carries about 7
digits, so values near 500 cannot agree to 1e-4 px when two engines sum in
different orders, but agree to 1e-4 of the image. Classes must be equal.
Rows of `detections` may trade places only where their scores are within
the tolerance (engines may order near-equal scores either way).

The TF.js outputs are kept under --cache (models/tfjs_reference.py), so
only the first check of a conversion waits for TensorFlow.js (about 6 s a
photo). Exits 1 if anything differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models"))
sys.path.insert(0, str(ROOT / "tests" / "reference"))
import centernet  # noqa: E402  the reference preprocessing
import convert_centernet as cc  # noqa: E402
import detect  # noqa: E402
import tfjs_graph  # noqa: E402
import tfjs_reference  # noqa: E402

CACHE = tfjs_reference.CACHE
FIXTURES = ROOT / "tests" / "fixtures"
PHOTOS = ["astronaut.jpg", "chelsea-progressive.jpg", "coffee-rotated.jpg", "motorcycle_left.png"]
SIZE = cc.INPUT_SIZE
CHECKED = ["keypoints", "wh", "detections"]


def input_tensors(photos: list[Path]) -> dict[str, np.ndarray]:
    out = {}
    for p in photos:
        decoded = detect.decode(p, False, SIZE)
        out[p.stem], _ = centernet.to_input(decoded.image)
    return out


def tfjs_outputs(sources: list[bytes], tensors: dict[str, np.ndarray], node_modules: Path,
                 cache: Path) -> dict[str, dict[str, np.ndarray]]:
    """TF.js's outputs for each input tensor: name -> {keypoints, wh, detections}."""
    shapes = {"keypoints": [1, 128, 128, cc.NUM_CLASSES], "wh": [1, 128, 128, 4],
              "detections": [1, cc.TOP_K, 6]}
    return tfjs_reference.tfjs_outputs(
        cc.INFO, sources, tensors, {w: (cc.TF_OUTPUTS[w], shapes[w]) for w in CHECKED},
        node_modules, cache)


def nhwc(x: np.ndarray) -> np.ndarray:
    """The model's channel-first [1,C,128,128] heatmaps in TF's layout."""
    return x.transpose(0, 2, 3, 1)


def onnx_runner(model: Path):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    m = onnx.load(str(model))
    for name in cc.INNER_TENSORS.values():  # read the heatmaps too
        m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [cc.OUTPUT_NAME, *cc.INNER_TENSORS.values()]
    uint8 = sess.get_inputs()[0].type == "tensor(uint8)"

    def run(x):
        det, kp, wh = sess.run(names, {cc.INFO.input[0]: tfjs_reference.as_input(x, uint8)})
        return {"detections": det, "keypoints": nhwc(kp), "wh": nhwc(wh)}
    return run


def openvino_runner(model: Path):
    import openvino as ov

    core = ov.Core()
    m = core.read_model(str(model))
    m.add_outputs(list(cc.INNER_TENSORS.values()))
    # float32 whatever the CPU: bf16 would move the outputs by up to ~1e-2.
    compiled = core.compile_model(m, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    uint8 = compiled.input(0).get_element_type() == ov.Type.u8

    def run(x):
        out = request.infer({cc.INFO.input[0]: tfjs_reference.as_input(x, uint8)})
        get = lambda name: out[compiled.output(name)].copy()  # noqa: E731
        return {"detections": get(cc.OUTPUT_NAME),
                "keypoints": nhwc(get(cc.INNER_TENSORS["keypoints"])),
                "wh": nhwc(get(cc.INNER_TENSORS["wh"]))}
    return run


def compare_detections(got: np.ndarray, want: np.ndarray, tol: float) -> tuple[float, int, str]:
    """(max abs diff of matching rows, boxes in units of the input side; rows
    that matched another place; the problem, if any)."""
    scale = np.array([1 / SIZE] * 4 + [1, 1])
    g = got.reshape(-1, 6).astype(np.float64) * scale
    w = want.reshape(-1, 6).astype(np.float64) * scale
    free, worst, moved = list(range(len(w))), 0.0, 0
    for i, row in enumerate(g):
        near = [j for j in free if w[j, 5] == row[5] and abs(w[j, 4] - row[4]) < tol]
        if not near:
            if abs(row[4] - w[-1, 4]) < tol:  # the 100th place, shared by a tie
                moved += 1
                continue
            return np.inf, moved, f"row {i} {got.reshape(-1, 6)[i].tolist()} is not in TF.js's"
        j = min(near, key=lambda j: np.abs(w[j] - row).max())
        free.remove(j)
        moved += j != i
        worst = max(worst, float(np.abs(w[j] - row).max()))
    return worst, moved, ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "centernet" / "model.onnx",
                    help="model.onnx (ONNX Runtime) or model.xml (OpenVINO)")
    ap.add_argument("--source", type=Path, default=None,
                    help=f"the npm .tgz of {cc.INFO.source} (default: the build's cache)")
    ap.add_argument("--tfjs", type=Path, required=True,
                    help="node_modules with @tensorflow/tfjs: `bash models/tfjs/install.sh` prints it")
    ap.add_argument("--cache", type=Path, default=CACHE / "tfjs-reference",
                    help="where TF.js's outputs are kept")
    ap.add_argument("--photos", nargs="+", type=Path, default=[FIXTURES / p for p in PHOTOS])
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args(argv)

    try:
        sources = tfjs_graph.read_source(a.source or tfjs_reference.default_source(cc.INFO), cc.INFO.source_files,
                                         cc.INFO.source)
    except tfjs_graph.ConvertError as e:
        sys.exit(f"verify_centernet: {e}")
    tensors = input_tensors(a.photos)
    want = tfjs_outputs(sources, tensors, a.tfjs, a.cache)
    run = openvino_runner(a.model) if a.model.suffix == ".xml" else onnx_runner(a.model)
    engine = "OpenVINO" if a.model.suffix == ".xml" else "ONNX Runtime"

    ok, worst = True, 0.0
    for name, x in tensors.items():
        got = run(x)
        for what in CHECKED:
            g, w = got[what], want[name][what]
            if g.shape != w.shape:
                print(f"{name:22s} {what:10s} shape {list(g.shape)}, TF.js {list(w.shape)}  FAIL")
                ok = False
                continue
            raw = float(np.max(np.abs(g.astype(np.float64) - w)))
            note = ""
            if what == "detections":
                diff, moved, problem = compare_detections(g, w, a.tolerance)
                note = f"; {problem}" if problem else (f", {moved} rows in another place" if moved else "")
            else:
                diff = raw / SIZE if what == "wh" else raw
            good = diff < a.tolerance
            ok &= good
            worst = max(worst, diff)
            unit = {"keypoints": "", "wh": " (px/512)", "detections": " (boxes px/512)"}[what]
            print(f"{name:22s} {what:10s} max abs diff {diff:.3e}{unit} (raw {raw:.3e}){note}  "
                  f"{'ok' if good else 'FAIL'}")
    print(f"{engine}: {a.model} {'matches' if ok else 'DIFFERS FROM'} the TF.js model "
          f"(worst {worst:.3e}, tolerance {a.tolerance:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
