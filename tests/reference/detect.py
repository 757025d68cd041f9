#!/usr/bin/env python3
"""Reference object detector: the native counterpart of the component.

Runs models/nanodet/model.onnx in ONNX Runtime on each image named on the
command line and prints one JSON object per image, one per line:

    {"image": PATH, "width": W, "height": H,
     "detections": [{"class": NAME, "score": S, "bbox": [x1, y1, x2, y2]}, ...]}

Boxes are in pixels of the image as displayed (after its EXIF orientation),
best score first. Pre- and post-processing follow the model's documented
recipe so that the component's results can be compared with these.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "nanodet" / "model.onnx"

SIZE = 416
STRIDES = (8, 16, 32)
REG_BINS = 11
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)
IOU_THRESHOLD = 0.6


@dataclass
class Letterbox:
    scale: float
    pad_x: int
    pad_y: int
    width: int   # of the original image
    height: int


def load_image(path) -> Image.Image:
    """Opens an image the way a viewer shows it: EXIF orientation applied,
    any mode (palette, grey, alpha, CMYK) turned into RGB."""
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        return img.convert("RGB")


def round_half_up(x: float) -> int:
    # Not Python's round(): that rounds halves to even, most other languages
    # (and the component) round them away from zero.
    return int(np.floor(x + 0.5))


def letterbox(img: Image.Image) -> tuple[Image.Image, Letterbox]:
    w, h = img.size
    r = min(SIZE / w, SIZE / h)
    nw, nh = max(1, round_half_up(w * r)), max(1, round_half_up(h * r))
    canvas = Image.new("RGB", (SIZE, SIZE), (0, 0, 0))
    box = Letterbox(r, (SIZE - nw) // 2, (SIZE - nh) // 2, w, h)
    canvas.paste(img.resize((nw, nh), Image.Resampling.BILINEAR), (box.pad_x, box.pad_y))
    return canvas, box


def to_tensor(canvas: Image.Image) -> np.ndarray:
    """RGB 416x416 image -> [1,3,416,416] float32, BGR, normalized."""
    bgr = np.asarray(canvas, np.float32)[:, :, ::-1]
    return np.ascontiguousarray(((bgr - MEAN_BGR) / STD_BGR).transpose(2, 0, 1)[None])


def centres() -> np.ndarray:
    """[3549, 2] cell centres in letterbox pixels, in the model's row order."""
    out = []
    for s in STRIDES:
        n = SIZE // s
        j = np.arange(n * n)
        out.append(np.stack([(j % n + 0.5) * s, (j // n + 0.5) * s], 1))
    return np.concatenate(out).astype(np.float32)


def row_strides() -> np.ndarray:
    return np.concatenate([np.full((SIZE // s) ** 2, s, np.float32) for s in STRIDES])


def area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box a against each box in b (x1, y1, x2, y2)."""
    x1, y1 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x2, y2 = np.minimum(a[2], b[:, 2]), np.minimum(a[3], b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def postprocess(scores: np.ndarray, box_dist: np.ndarray, lb: Letterbox,
                threshold: float, max_det: int, labels: list[str]) -> list[dict]:
    scores = scores.reshape(-1, scores.shape[-1])
    cls = scores.argmax(1)
    best = scores[np.arange(len(cls)), cls]
    keep = np.nonzero(best > threshold)[0]
    if len(keep) == 0:
        return []

    # Each side's distance is the expectation of an 11-bin distribution.
    logits = box_dist.reshape(-1, 4, REG_BINS)[keep].astype(np.float64)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    dist = (p * np.arange(REG_BINS)).sum(-1) * row_strides()[keep, None]
    c = centres()[keep]
    boxes = np.stack([c[:, 0] - dist[:, 0], c[:, 1] - dist[:, 1],
                      c[:, 0] + dist[:, 2], c[:, 1] + dist[:, 3]], 1)
    boxes = np.clip(boxes, 0, SIZE)
    boxes[:, [0, 2]] = np.clip((boxes[:, [0, 2]] - lb.pad_x) / lb.scale, 0, lb.width)
    boxes[:, [1, 3]] = np.clip((boxes[:, [1, 3]] - lb.pad_y) / lb.scale, 0, lb.height)

    # Greedy NMS within each class; stable sort keeps ties in row order.
    order = np.argsort(-best[keep], kind="stable")
    boxes, cls, sc = boxes[order], cls[keep][order], best[keep][order]
    suppressed = np.zeros(len(order), bool)
    result = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        result.append({"class": labels[cls[i]], "score": round(float(sc[i]), 4),
                       "bbox": [round(float(v), 2) for v in boxes[i]]})
        if len(result) == max_det:
            break
        rest = np.arange(i + 1, len(order))
        rest = rest[(cls[rest] == cls[i]) & ~suppressed[rest]]
        suppressed[rest[iou(boxes[i], boxes[rest]) > IOU_THRESHOLD]] = True
    return result


class Detector:
    def __init__(self, model: Path = DEFAULT_MODEL, labels: Path | None = None):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # One thread: the same numbers on any machine, and fast enough.
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        labels = labels or Path(model).with_name("labels.txt")
        self.labels = labels.read_text().splitlines()

    def run(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, box_dist = self.session.run(["scores", "box_dist"], {"input": tensor})
        return scores, box_dist

    def detect(self, path, threshold=0.35, max_det=20) -> dict:
        img = load_image(path)
        canvas, lb = letterbox(img)
        scores, box_dist = self.run(to_tensor(canvas))
        return {"image": str(path), "width": lb.width, "height": lb.height,
                "detections": postprocess(scores, box_dist, lb, threshold, max_det, self.labels)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("images", nargs="+", type=Path)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--labels", type=Path, help="default: labels.txt beside the model")
    ap.add_argument("--threshold", type=float, default=0.35,
                    help="keep rows whose best class score is above this (default 0.35)")
    ap.add_argument("--max", type=int, default=20, help="at most this many detections")
    a = ap.parse_args(argv)
    det = Detector(a.model, a.labels)
    status = 0
    for path in a.images:
        try:
            print(json.dumps(det.detect(path, a.threshold, a.max)), flush=True)
        except (OSError, ValueError) as e:  # PIL raises these for unreadable images
            print(f"detect: {path}: {e}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
