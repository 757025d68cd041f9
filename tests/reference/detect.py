#!/usr/bin/env python3
"""Reference object detector: the native counterpart of the component.

Runs models/nanodet/model.onnx in ONNX Runtime on each image named on the
command line and prints one JSON object per image, one per line:

    {"image": PATH, "width": W, "height": H,
     "detections": [{"class": NAME, "score": S, "bbox": [x1, y1, x2, y2]}, ...]}

Boxes are in pixels of the image as displayed (after its EXIF orientation),
best score first. Pre- and post-processing follow the model's documented
recipe so that the component's results can be compared with these.

A JPEG much larger than the model's input is decoded at a reduced DCT scale
(1/2, 1/4 or 1/8, Pillow's `Image.draft`), as the component does: the
letterbox only needs SIZE pixels a side, and a 12-megapixel photo decodes
to 500x375 in a fraction of the time. The boxes are scaled back to the full
photo. `--full-decode` decodes every pixel instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import ExifTags, Image, ImageOps, JpegImagePlugin

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
    width: int   # of the image letterboxed
    height: int


@dataclass
class Decoded:
    """An image as displayed, decoded at 1/reduction of its size."""
    image: Image.Image  # RGB, upright
    reduction: int      # 1, 2, 4 or 8
    width: int          # of the full-size image as displayed
    height: int

    def to_full_size(self, boxes: np.ndarray) -> np.ndarray:
        """[n, 4] boxes (x1, y1, x2, y2) in pixels of `image` -> of the full-size
        image. The reduced sides are rounded up, so scaled back they can pass
        the full size by up to reduction - 1 pixels: clamped."""
        boxes = boxes * self.reduction
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, self.width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, self.height)
        return boxes


def letterbox_inner_size(w: int, h: int, size: int = SIZE) -> tuple[int, int]:
    """The size a w x h image is resized to inside the size x size letterbox."""
    r = min(size / w, size / h)
    return max(1, round_half_up(w * r)), max(1, round_half_up(h * r))


def reduction(w: int, h: int, size: int = SIZE) -> int:
    """The DCT scale denominator for a JPEG stored w x h: the largest of 8, 4,
    2, 1 that still decodes at least the letterbox's inner size on both
    sides (Pillow's `draft` rule). Stored and displayed sizes give the same
    answer, so the EXIF orientation does not matter."""
    iw, ih = letterbox_inner_size(w, h, size)
    k = min(w // iw, h // ih)
    return next((s for s in (8, 4, 2) if s <= k), 1)


def reduced_size(w: int, h: int, s: int) -> tuple[int, int]:
    """A w x h JPEG decoded at 1/s: each side rounded up."""
    return -(-w // s), -(-h // s)


def is_jpeg(img: Image.Image) -> bool:
    # MPO (the multi-picture JPEGs of many phones) is a JpegImageFile too.
    return isinstance(img, JpegImagePlugin.JpegImageFile)


def jpeg_reduction(path) -> int:
    """The reduction `decode` uses for this file: 1 for anything but a JPEG.
    Reads the header only."""
    with Image.open(path) as img:
        return reduction(*img.size) if is_jpeg(img) else 1


def displayed_size(img: Image.Image) -> tuple[int, int]:
    """The size once the EXIF orientation is applied (ImageOps.exif_transpose):
    orientations 5 to 8 turn the image a quarter."""
    w, h = img.size
    turned = img.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)
    return (h, w) if turned else (w, h)


def decode(source, full_decode: bool = False, size: int = SIZE) -> Decoded:
    """Opens an image (a path or a binary file) the way a viewer shows it: EXIF
    orientation applied, any mode (palette, grey, alpha, CMYK) turned into
    RGB; a large JPEG at a reduced scale (enough for a size x size
    letterbox) unless `full_decode`."""
    with Image.open(source) as img:
        width, height = displayed_size(img)
        s = 1
        if is_jpeg(img) and not full_decode:
            stored = img.size
            s = reduction(*stored, size)
            # draft() only changes how the decoder will run; nothing is decoded yet.
            img.draft("RGB", letterbox_inner_size(*stored, size))
            if img.size != reduced_size(*stored, s):
                raise RuntimeError(f"Pillow's draft decodes {stored} at {img.size}, "
                                   f"not 1/{s}: its rule is no longer this module's")
        img = ImageOps.exif_transpose(img)
        return Decoded(img.convert("RGB"), s, width, height)


def load_image(path, full_decode: bool = False) -> Image.Image:
    """The image `decode` gives: at full size for PNGs and small JPEGs."""
    return decode(path, full_decode).image


def round_half_up(x: float) -> int:
    # Not Python's round(): that rounds halves to even, most other languages
    # (and the component) round them away from zero.
    return int(np.floor(x + 0.5))


def letterbox(img: Image.Image, size: int = SIZE) -> tuple[Image.Image, Letterbox]:
    w, h = img.size
    r = min(size / w, size / h)
    nw, nh = letterbox_inner_size(w, h, size)
    canvas = Image.new("RGB", (size, size), (0, 0, 0))
    box = Letterbox(r, (size - nw) // 2, (size - nh) // 2, w, h)
    canvas.paste(img.resize((nw, nh), Image.Resampling.BILINEAR), (box.pad_x, box.pad_y))
    return canvas, box


def to_tensor(canvas: Image.Image) -> np.ndarray:
    """RGB 416x416 image -> [1,3,416,416] float32, BGR, normalized."""
    bgr = np.asarray(canvas, np.float32)[:, :, ::-1]
    return np.ascontiguousarray(((bgr - MEAN_BGR) / STD_BGR).transpose(2, 0, 1)[None])


def to_pixels(canvas: Image.Image) -> np.ndarray:
    """RGB 416x416 image -> [1,3,416,416] uint8, BGR: the model's input,
    which its graph normalises as `to_tensor` does."""
    bgr = np.asarray(canvas, np.uint8)[:, :, ::-1]
    return np.ascontiguousarray(bgr.transpose(2, 0, 1)[None])


def model_input(canvas: Image.Image, model: Path = DEFAULT_MODEL) -> np.ndarray:
    """What `model` takes for a letterboxed canvas, by its manifest's
    input dtype: the pixels (uint8), or `to_tensor`'s floats."""
    manifest = json.loads(Path(model).with_name("manifest.json").read_text())
    return to_pixels(canvas) if manifest["input"]["dtype"] == "uint8" else to_tensor(canvas)


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


def best_boxes(scores: np.ndarray, box_dist: np.ndarray, lb: Letterbox,
               threshold: float, max_det: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kept detections, best first: boxes [n, 4] (x1, y1, x2, y2) in pixels
    of the image given to `letterbox`, class indices [n] and scores [n]."""
    scores = scores.reshape(-1, scores.shape[-1])
    cls = scores.argmax(1)
    best = scores[np.arange(len(cls)), cls]
    keep = np.nonzero(best > threshold)[0]
    if len(keep) == 0:
        return np.zeros((0, 4)), np.zeros(0, int), np.zeros(0, np.float32)

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
    picked = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        picked.append(i)
        if len(picked) == max_det:
            break
        rest = np.arange(i + 1, len(order))
        rest = rest[(cls[rest] == cls[i]) & ~suppressed[rest]]
        suppressed[rest[iou(boxes[i], boxes[rest]) > IOU_THRESHOLD]] = True
    return boxes[picked], cls[picked], sc[picked]


def postprocess(scores: np.ndarray, box_dist: np.ndarray, lb: Letterbox,
                threshold: float, max_det: int, labels: list[str],
                decoded: Decoded | None = None) -> list[dict]:
    """The detections as JSON-ready dicts; boxes in pixels of the image given to
    `letterbox`, or of the full-size image when it is `decoded`'s reduced one."""
    boxes, cls, sc = best_boxes(scores, box_dist, lb, threshold, max_det)
    if decoded is not None:
        boxes = decoded.to_full_size(boxes)
    return [{"class": labels[c], "score": round(float(v), 4),
             "bbox": [round(float(x), 2) for x in box]}
            for box, c, v in zip(boxes, cls, sc)]


class Detector:
    def __init__(self, model: Path = DEFAULT_MODEL, labels: Path | None = None):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # One thread: the same numbers on any machine, and fast enough.
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self.model = Path(model)
        labels = labels or Path(model).with_name("labels.txt")
        self.labels = labels.read_text().splitlines()

    def run(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, box_dist = self.session.run(["scores", "box_dist"], {"input": tensor})
        return scores, box_dist

    def detect(self, path, threshold=0.35, max_det=20, full_decode=False) -> dict:
        decoded = decode(path, full_decode)
        canvas, lb = letterbox(decoded.image)
        scores, box_dist = self.run(model_input(canvas, self.model))
        return {"image": str(path), "width": decoded.width, "height": decoded.height,
                "detections": postprocess(scores, box_dist, lb, threshold, max_det,
                                          self.labels, decoded)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("images", nargs="+", type=Path)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--labels", type=Path, help="default: labels.txt beside the model")
    ap.add_argument("--threshold", type=float, default=0.35,
                    help="keep rows whose best class score is above this (default 0.35)")
    ap.add_argument("--max", type=int, default=20, help="at most this many detections")
    ap.add_argument("--full-decode", action="store_true",
                    help="decode every pixel of a large JPEG instead of at a reduced DCT scale")
    a = ap.parse_args(argv)
    det = Detector(a.model, a.labels)
    return print_each(a.images, lambda p: det.detect(p, a.threshold, a.max, a.full_decode),
                      "detect")


def print_each(paths, detect_one, prog: str) -> int:
    """Prints detect_one(path) as one JSON line for each path; 1 if an image
    could not be read."""
    status = 0
    for path in paths:
        try:
            print(json.dumps(detect_one(path)), flush=True)
        except (OSError, ValueError) as e:  # PIL raises these for unreadable images
            print(f"{prog}: {path}: {e}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
