#!/usr/bin/env python3
"""Converts the ONNX model to OpenVINO IR (`model.xml` + `model.bin`).

Uses the PyPI `openvino` package's own converter (`openvino.convert_model`)
and keeps the weights in float32 (`compress_to_fp16=False`), so the IR
computes what the ONNX model computes; the CPU plugin still picks its own
inference precision at run time (bf16 on CPUs that have it). The input and
output names are kept, and checked against the ONNX model's manifest.json
(beside it), whose interface fields (input, outputs, preprocess, decoder,
nms_iou, threshold, labels) the IR's manifest.json repeats, so a detector
reads either folder alike. The result is byte-for-byte reproducible for the
same ONNX file and `openvino` version.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import openvino as ov

# The fields of the ONNX model's manifest that describe its use.
INTERFACE = ["input", "outputs", "preprocess", "decoder", "nms_iou", "threshold", "labels"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("onnx", type=Path, help="the model.onnx to convert")
    ap.add_argument("-o", "--out", type=Path, required=True,
                    help="output folder for model.xml, model.bin and manifest.json")
    a = ap.parse_args(argv)

    onnx_manifest = json.loads(a.onnx.with_name("manifest.json").read_text())
    model = ov.convert_model(str(a.onnx))
    names = {"inputs": [sorted(i.get_names()) for i in model.inputs],
             "outputs": [sorted(o.get_names()) for o in model.outputs]}
    want = {"inputs": [[onnx_manifest["input"]["name"]]],
            "outputs": [[o["name"]] for o in onnx_manifest["outputs"]]}
    if names != want:
        print(f"convert_openvino: tensor names {names}, expected {want}", file=sys.stderr)
        return 1
    a.out.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(a.out / "model.xml"), compress_to_fp16=False)
    manifest = {
        "name": onnx_manifest["name"],
        "format": "OpenVINO IR",
        "files": ["model.xml", "model.bin"],
        "converted_from": {"file": a.onnx.name, "sha256": onnx_manifest["model"]["sha256"]},
        "converter": f"openvino {ov.__version__} convert_model, weights float32",
        "interface": "that of the ONNX model; the fields below are copied from its manifest.json",
        **{k: onnx_manifest[k] for k in INTERFACE if k in onnx_manifest},
    }
    (a.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {a.out / 'model.xml'} and model.bin", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
