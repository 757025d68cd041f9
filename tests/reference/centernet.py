#!/usr/bin/env python3
"""Reference CenterNet detector: what the component must answer with the
CenterNet model (models/centernet/model.onnx), in plain numpy.

Runs the model in ONNX Runtime on each image named on the command line and
prints one JSON object per image, one per line:

    {"image": PATH, "width": W, "height": H,
     "detections": [{"bbox": [{"x": x1, "y": y1}, {"x": x2, "y": y2}],
                     "class": NAME, "score": S}, ...]}

in the API's form: boxes in pixels of the image as displayed (after its
EXIF orientation), rounded to 0.01, scores to 0.001, best score first.

The recipe (see models/centernet/ATTRIBUTION.md for its sources):
- the image, decoded like detect.py decodes it (EXIF, any mode to RGB, a
  large JPEG at a reduced DCT scale), is letterboxed onto a black 512x512
  canvas (Pillow bilinear, centred); `--resize stretch` stretches it to
  512x512 instead, as @vladmandic/human does;
- the tensor is [1,512,512,3], NHWC, RGB, the pixel values 0..255 as float32;
- the model's one output `detections` [1,100,6] holds the 100 best heatmap
  peaks, best first, each (x1, y1, x2, y2, score, class index), the box in
  input pixels;
- rows scoring above the threshold (0.2) are kept, then a class-agnostic
  greedy NMS on those input-pixel boxes drops a row whose IoU with a kept
  one is 0.4 or more (tf.image.nonMaxSuppression, as human runs it);
- the boxes are mapped to the image (x = (x - pad_x) / scale for the
  letterbox, x * width / 512 for a stretch) and clamped to it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, str(Path(__file__).resolve().parent))
import detect  # noqa: E402  decoding, EXIF, the letterbox

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "centernet" / "model.onnx"

SIZE = 512
THRESHOLD = 0.2
IOU_THRESHOLD = 0.4
INPUT_NAME = "images"
OUTPUT_NAME = "detections"


class Placement:
    """How an image was placed in the SIZE x SIZE input: input = image * scale
    + pad on each axis."""

    def __init__(self, width: int, height: int, resize: str):
        self.width, self.height = width, height
        if resize == "letterbox":
            iw, ih = detect.letterbox_inner_size(width, height, SIZE)
            r = min(SIZE / width, SIZE / height)
            self.scale = (r, r)
            self.pad = ((SIZE - iw) // 2, (SIZE - ih) // 2)
        else:
            self.scale = (SIZE / width, SIZE / height)
            self.pad = (0, 0)

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """[n, 4] (x1, y1, x2, y2) input pixels -> image pixels, clamped."""
        out = np.empty_like(boxes, dtype=np.float64)
        for axis, limit in ((0, self.width), (1, self.height)):
            cols = [axis, axis + 2]
            out[:, cols] = np.clip((boxes[:, cols] - self.pad[axis]) / self.scale[axis], 0, limit)
        return out


def to_input(img: Image.Image, resize: str = "letterbox") -> tuple[np.ndarray, Placement]:
    """An RGB image -> the [1,512,512,3] float32 input and its placement."""
    if resize == "letterbox":
        canvas, _ = detect.letterbox(img, SIZE)
    elif resize == "stretch":
        canvas = img.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    else:
        raise ValueError(f"resize {resize!r}")
    tensor = np.asarray(canvas, np.float32)[None]
    return np.ascontiguousarray(tensor), Placement(img.width, img.height, resize)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box a against each box in b, as tf.image.nonMaxSuppression
    computes it: corners in either order, 0 for an empty box."""
    def norm(x):
        x = np.atleast_2d(x)
        return (np.minimum(x[:, 0], x[:, 2]), np.minimum(x[:, 1], x[:, 3]),
                np.maximum(x[:, 0], x[:, 2]), np.maximum(x[:, 1], x[:, 3]))
    ax1, ay1, ax2, ay2 = norm(a)
    bx1, by1, bx2, by2 = norm(b)
    area_a, area_b = (ax2 - ax1) * (ay2 - ay1), (bx2 - bx1) * (by2 - by1)
    inter = (np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
             * np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None))
    union = area_a + area_b - inter
    ok = (area_a > 0) & (area_b > 0)
    return np.where(ok, inter / np.where(ok, union, 1), 0.0)


def best_rows(detections: np.ndarray, threshold: float = THRESHOLD,
              max_det: int = 20, iou_threshold: float = IOU_THRESHOLD) -> np.ndarray:
    """Indices of the kept rows of `detections` [.., 100, 6], best first."""
    rows = detections.reshape(-1, 6).astype(np.float64)
    score, cls = rows[:, 4], rows[:, 5]
    valid = (score > threshold) & (score <= 1) & np.isfinite(rows[:, :4]).all(1) \
        & (cls == np.round(cls)) & (cls >= 0) & (cls < 80)
    # Best first; equal scores keep the lower row first.
    order = [i for i in np.argsort(-score, kind="stable") if valid[i]]
    kept: list[int] = []
    for i in order:
        if len(kept) == max_det:
            break
        if not kept or (iou(rows[i, :4], rows[kept, :4]) < iou_threshold).all():
            kept.append(i)
    return np.array(kept, int)


def postprocess(detections: np.ndarray, placement: Placement, labels: list[str],
                decoded: detect.Decoded | None = None, threshold: float = THRESHOLD,
                max_det: int = 20) -> list[dict]:
    """The API's detections of the model's output, in pixels of the image given
    to `to_input`, or of the full-size image when it is `decoded`'s reduced one."""
    rows = detections.reshape(-1, 6)
    keep = best_rows(rows, threshold, max_det)
    boxes = placement.to_image(rows[keep, :4]) if len(keep) else np.zeros((0, 4))
    if decoded is not None:
        boxes = decoded.to_full_size(boxes)
    return [{"bbox": [{"x": round(float(b[0]), 2), "y": round(float(b[1]), 2)},
                      {"x": round(float(b[2]), 2), "y": round(float(b[3]), 2)}],
             "class": labels[int(rows[i, 5])], "score": round(float(rows[i, 4]), 3)}
            for i, b in zip(keep, boxes)]


class Detector:
    def __init__(self, model: Path = DEFAULT_MODEL, labels: Path | None = None):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = 1  # the same numbers on any machine
        self.session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self.labels = (labels or Path(model).with_name("labels.txt")).read_text().splitlines()

    def run(self, tensor: np.ndarray) -> np.ndarray:
        # The pixel values, as the type the model takes (uint8 since its
        # conversion says so; float32 before).
        if self.session.get_inputs()[0].type == "tensor(uint8)":
            tensor = tensor.astype(np.uint8)
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: tensor})[0]

    def detect(self, path, threshold=THRESHOLD, max_det=20, resize="letterbox",
               full_decode=False, dump: Path | None = None) -> dict:
        # The reduced JPEG decode covers the letterbox's inner size; a
        # stretch, which needs SIZE pixels both ways, decodes every pixel.
        decoded = detect.decode(path, full_decode or resize == "stretch", SIZE)
        tensor, placement = to_input(decoded.image, resize)
        output = self.run(tensor)
        if dump is not None:
            # The model's input and output as little-endian float32, for
            # other engines to be held to (provider/tests/engine.rs).
            stem = Path(path).stem
            tensor.astype("<f4").tofile(dump / f"{stem}.input.f32")
            output.astype("<f4").tofile(dump / f"{stem}.detections.f32")
        return {"image": str(path), "width": decoded.width, "height": decoded.height,
                "detections": postprocess(output, placement, self.labels,
                                          decoded, threshold, max_det)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("images", nargs="+", type=Path)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--labels", type=Path, help="default: labels.txt beside the model")
    ap.add_argument("--threshold", type=float, default=THRESHOLD,
                    help=f"keep rows scoring above this (default {THRESHOLD})")
    ap.add_argument("--max", type=int, default=20, help="at most this many detections")
    ap.add_argument("--resize", choices=["letterbox", "stretch"], default="letterbox",
                    help="letterbox (default, the model's training) or stretch (human's)")
    ap.add_argument("--full-decode", action="store_true",
                    help="decode every pixel of a large JPEG instead of at a reduced DCT scale")
    ap.add_argument("--dump", type=Path, metavar="DIR",
                    help="also write each image's input tensor and raw output into DIR "
                         "(NAME.input.f32, NAME.detections.f32: little-endian float32)")
    a = ap.parse_args(argv)
    if a.dump:
        a.dump.mkdir(parents=True, exist_ok=True)
    det = Detector(a.model, a.labels)
    return detect.print_each(
        a.images, lambda p: det.detect(p, a.threshold, a.max, a.resize, a.full_decode, a.dump),
        "centernet")


if __name__ == "__main__":
    sys.exit(main())
