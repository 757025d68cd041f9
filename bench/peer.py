#!/usr/bin/env python3
"""The plain Python server a user would compare wasi-detect with.

What one would write in an afternoon to serve the same model: the standard
library's `http.server` (HTTP/1.1, keep-alive), Pillow to decode (a large
JPEG at a reduced DCT scale with `Image.draft`, the same rule as the
component), NumPy and ONNX Runtime (CPU, default session options), and the
reference pre- and post-processing of tests/reference/detect.py, so that
both servers do the same work on the same model. `make bench` measures it
over HTTP exactly as it measures the component.

    POST /predict   body: a JPEG or PNG; `?threshold=` and `?max=` as the
                    component's. Answers the component's JSON:
                    [{"bbox":[{"x":x1,"y":y1},{"x":x2,"y":y2}],"class":"person","score":0.882}]

Run: python bench/peer.py [--port 8081] [--model models/nanodet/model.onnx]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reference"))
import detect  # noqa: E402  the reference pre- and post-processing


class Model:
    """The ONNX session, made once at start and shared by every request."""

    def __init__(self, path: Path):
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
        self.labels = path.with_name("labels.txt").read_text().splitlines()
        self.path = path

    def predict(self, image: bytes, threshold: float, max_det: int) -> list[dict]:
        decoded = detect.decode(io.BytesIO(image))
        canvas, lb = detect.letterbox(decoded.image)
        scores, box_dist = self.session.run(["scores", "box_dist"],
                                            {"input": detect.model_input(canvas, self.path)})
        boxes, classes, best = detect.best_boxes(scores, box_dist, lb, threshold, max_det)
        boxes = decoded.to_full_size(boxes)
        return [{"bbox": [{"x": round(float(x1), 2), "y": round(float(y1), 2)},
                          {"x": round(float(x2), 2), "y": round(float(y2), 2)}],
                 "class": self.labels[c], "score": round(float(s), 3)}
                for (x1, y1, x2, y2), c, s in zip(boxes, classes, best)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the component's host
    # Headers and body go out in two writes: without this, Nagle's algorithm
    # holds the body back until the client's delayed ACK, 40 ms a request.
    disable_nagle_algorithm = True
    model: Model  # set in main()

    def do_POST(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length)  # read even when refused, to keep the connection usable
        if url.path != "/predict":
            return self.answer(404, {"code": "not_found", "message": f"no route {url.path}"})
        try:
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            threshold = float(query.get("threshold", 0.35))
            max_det = int(query.get("max", 20))
        except ValueError as e:
            return self.answer(400, {"code": "invalid_parameter", "message": str(e)})
        try:
            detections = self.model.predict(body, threshold, max_det)
        except (OSError, ValueError) as e:  # what Pillow raises for bytes it cannot decode
            return self.answer(422, {"code": "invalid_image", "message": str(e)})
        self.answer(200, detections)

    def answer(self, status: int, value):
        data = json.dumps(value, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # a line on stderr per request is not what is being measured


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--model", type=Path, default=detect.DEFAULT_MODEL,
                   help="an ONNX model with labels.txt beside it")
    a = p.parse_args(argv)
    Handler.model = Model(a.model)
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print(f"peer: http://127.0.0.1:{a.port}/predict", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
