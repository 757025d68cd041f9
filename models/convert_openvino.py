#!/usr/bin/env python3
"""Converts the ONNX model to OpenVINO IR (`model.xml` + `model.bin`).

Uses the PyPI `openvino` package's own converter (`openvino.convert_model`)
and keeps the weights in float32 (`compress_to_fp16=False`), so the IR
computes what the ONNX model computes; the CPU plugin still picks its own
inference precision at run time (bf16 on CPUs that have it). The input and
output names (`input`, `scores`, `box_dist`) are kept. The result is
byte-for-byte reproducible for the same ONNX file and `openvino` version.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import openvino as ov


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("onnx", type=Path, help="the model.onnx to convert")
    ap.add_argument("-o", "--out", type=Path, required=True,
                    help="output folder for model.xml, model.bin and manifest.json")
    a = ap.parse_args(argv)

    model = ov.convert_model(str(a.onnx))
    names = {"inputs": [sorted(i.get_names()) for i in model.inputs],
             "outputs": [sorted(o.get_names()) for o in model.outputs]}
    if names != {"inputs": [["input"]], "outputs": [["scores"], ["box_dist"]]}:
        print(f"convert_openvino: unexpected tensor names {names}", file=sys.stderr)
        return 1
    a.out.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(a.out / "model.xml"), compress_to_fp16=False)
    manifest = {
        "name": "nanodet-g-416",
        "format": "OpenVINO IR",
        "files": ["model.xml", "model.bin"],
        "converted_from": a.onnx.name,
        "converter": f"openvino {ov.__version__} convert_model, weights float32",
        "interface": "the same as model.onnx: see ../nanodet/manifest.json",
    }
    (a.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {a.out / 'model.xml'} and model.bin", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
