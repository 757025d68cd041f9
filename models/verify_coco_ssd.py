#!/usr/bin/env python3
"""Checks a coco-ssd conversion against the TF.js graph model it came from.

The reference is the original `model.json` and its five weight shards run by
TensorFlow.js (models/tfjs_reference.py) on a few fixture photos, each
stretched to 300x300 and rounded to whole pixel values, fed as the int32
image the graph takes: at 300x300 the graph's own resize (TF's bilinear,
scale 1) passes the pixels through unchanged, so both models see the same
numbers. The model under test is `model.onnx` in ONNX Runtime or OpenVINO IR
`model.xml` in OpenVINO (computing in float32), and its two outputs are
compared with the TF.js graph's:

    scores  [1,1917,90]  sigmoid class scores (TF.js: Postprocessor/Slice)
    boxes   [1,1917,4]   decoded boxes, 0..1 (TF.js: Postprocessor/Reshape_2)

Each must differ from TF.js by less than the tolerance (1e-4) at most.
Exits 1 if anything differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models"))
import convert_coco_ssd as cs  # noqa: E402
import tfjs_graph  # noqa: E402
import tfjs_reference  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
PHOTOS = ["astronaut.jpg", "chelsea-progressive.jpg", "coffee-rotated.jpg", "motorcycle_left.png"]
SIZE = cs.INPUT_SIZE
SHAPES = {"scores": [1, cs.ANCHORS, cs.COLUMNS], "boxes": [1, cs.ANCHORS, 4]}


def input_tensors(photos: list[Path]) -> dict[str, np.ndarray]:
    """Each photo as displayed, stretched to 300x300: int32 [1,300,300,3]."""
    out = {}
    for p in photos:
        img = ImageOps.exif_transpose(Image.open(p)).convert("RGB")
        img = img.resize((SIZE, SIZE), Image.BILINEAR)
        out[p.stem] = np.asarray(img, np.int32)[None]
    return out


def onnx_runner(model: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    uint8 = sess.get_inputs()[0].type == "tensor(uint8)"
    return lambda x: dict(zip(SHAPES, sess.run(list(SHAPES), {
        cs.INFO.input[0]: tfjs_reference.as_input(x, uint8)})))


def openvino_runner(model: Path):
    import openvino as ov

    core = ov.Core()
    # float32 whatever the CPU: bf16 would move the outputs by up to ~1e-2.
    compiled = core.compile_model(core.read_model(str(model)), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    uint8 = compiled.input(0).get_element_type() == ov.Type.u8

    def run(x):
        out = request.infer({cs.INFO.input[0]: tfjs_reference.as_input(x, uint8)})
        return {what: out[compiled.output(what)].copy() for what in SHAPES}
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "coco-ssd" / "model.onnx",
                    help="model.onnx (ONNX Runtime) or model.xml (OpenVINO)")
    ap.add_argument("--source", type=Path, default=None,
                    help=f"the npm .tgz of {cs.INFO.source} (default: the build's cache)")
    ap.add_argument("--tfjs", type=Path, required=True,
                    help="node_modules with @tensorflow/tfjs: `bash models/tfjs/install.sh` prints it")
    ap.add_argument("--cache", type=Path, default=tfjs_reference.CACHE / "tfjs-reference",
                    help="where TF.js's outputs are kept")
    ap.add_argument("--photos", nargs="+", type=Path, default=[FIXTURES / p for p in PHOTOS])
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args(argv)

    try:
        sources = tfjs_graph.read_source(a.source or tfjs_reference.default_source(cs.INFO),
                                         cs.INFO.source_files, cs.INFO.source)
    except tfjs_graph.ConvertError as e:
        sys.exit(f"verify_coco_ssd: {e}")
    tensors = input_tensors(a.photos)
    want = tfjs_reference.tfjs_outputs(
        cs.INFO, sources, tensors, {w: (cs.TF_OUTPUTS[w], s) for w, s in SHAPES.items()},
        a.tfjs, a.cache)
    run = openvino_runner(a.model) if a.model.suffix == ".xml" else onnx_runner(a.model)
    engine = "OpenVINO" if a.model.suffix == ".xml" else "ONNX Runtime"

    ok, worst = True, 0.0
    for name, x in tensors.items():
        got = run(x)
        for what in SHAPES:
            g, w = got[what], want[name][what]
            if list(g.shape) != list(w.shape):
                print(f"{name:22s} {what:7s} shape {list(g.shape)}, TF.js {list(w.shape)}  FAIL")
                ok = False
                continue
            diff = float(np.max(np.abs(g.astype(np.float64) - w)))
            good = diff < a.tolerance
            ok &= good
            worst = max(worst, diff)
            print(f"{name:22s} {what:7s} max abs diff {diff:.3e}  {'ok' if good else 'FAIL'}")
    print(f"{engine}: {a.model} {'matches' if ok else 'DIFFERS FROM'} the TF.js model "
          f"(worst {worst:.3e}, tolerance {a.tolerance:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
