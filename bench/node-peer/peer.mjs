#!/usr/bin/env node
// The Node.js server a web developer would write to serve the same model
// without wasi-detect: `node:http`, sharp (libvips: shrink-on-load for
// JPEGs, EXIF auto-rotate) to decode and resize, onnxruntime-node (its
// default CPU session options) to run it, and NanoDet's pre- and
// post-processing as tests/reference/detect.py does them. `make bench`
// measures it over HTTP exactly as it measures the component and
// bench/peer.py (the Python peer), and checks its answers against ours.
//
//   POST /predict   body: a JPEG or PNG (at most 5 MB); `?threshold=` and
//                   `?max=` as the component's. Answers the component's JSON:
//                   [{"bbox":[{"x":x1,"y":y1},{"x":x2,"y":y2}],"class":"person","score":0.882}]
//
// Run: node bench/node-peer/peer.mjs [--port 8082] [--model models/nanodet/model.onnx]
// (its packages: scripts/node-peer.sh installs them, pinned by package-lock.json).

import { readFileSync } from "node:fs";
import http from "node:http";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import ort from "onnxruntime-node";
import sharp from "sharp";

const SIZE = 416;
const STRIDES = [8, 16, 32];
const REG_BINS = 11;
const MEAN_BGR = [103.53, 116.28, 123.675];
const STD_BGR = [57.375, 57.12, 58.395];
const IOU_THRESHOLD = 0.6;
const MAX_BODY = 5 * 1024 * 1024;

const { values: options } = parseArgs({
  options: {
    port: { type: "string", default: "8082" },
    model: { type: "string", default: "models/nanodet/model.onnx" },
  },
});
const session = await ort.InferenceSession.create(options.model);
const labels = readFileSync(join(dirname(options.model), "labels.txt"), "utf8").trimEnd().split("\n");
// The model's input type, from its manifest: uint8 pixels (its graph
// normalises them), or float32 values normalised here.
const manifest = JSON.parse(readFileSync(join(dirname(options.model), "manifest.json"), "utf8"));
const UINT8 = manifest.input.dtype === "uint8";

// Each row's cell centre in letterbox pixels and its stride, in the model's order.
const rows = [];
for (const s of STRIDES) {
  const n = SIZE / s;
  for (let j = 0; j < n * n; j++) rows.push({ cx: ((j % n) + 0.5) * s, cy: (Math.floor(j / n) + 0.5) * s, s });
}

const roundHalfUp = (x) => Math.floor(x + 0.5);

/** Image bytes -> the model's tensor and the letterbox that made it. */
async function preprocess(bytes) {
  // rotate() with no angle applies the EXIF orientation.
  const upright = sharp(bytes, { limitInputPixels: 32e6 }).rotate();
  // The input's header: metadata() ignores the operations queued.
  const meta = await upright.metadata();
  const turned = (meta.orientation ?? 1) >= 5;
  const [w, h] = turned ? [meta.height, meta.width] : [meta.width, meta.height];
  const r = Math.min(SIZE / w, SIZE / h);
  const nw = Math.max(1, roundHalfUp(w * r));
  const nh = Math.max(1, roundHalfUp(h * r));
  const padX = Math.floor((SIZE - nw) / 2);
  const padY = Math.floor((SIZE - nh) / 2);
  const { data } = await upright
    .removeAlpha()
    .toColourspace("srgb")
    .resize(nw, nh, { fit: "fill", kernel: "linear" })
    .extend({ left: padX, right: SIZE - nw - padX, top: padY, bottom: SIZE - nh - padY, background: "#000000" })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plane = SIZE * SIZE;
  const tensor = UINT8 ? new Uint8Array(3 * plane) : new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    // BGR planes: the pixels, or normalised for a float32 model.
    for (let c = 0; c < 3; c++) {
      const v = data[i * 3 + 2 - c];
      tensor[c * plane + i] = UINT8 ? v : (v - MEAN_BGR[c]) / STD_BGR[c];
    }
  }
  return { tensor, box: { r, padX, padY, w, h } };
}

function iou(a, b) {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** The model's outputs -> the kept detections, best first (tests/reference/detect.py's best_boxes). */
function detections(scores, boxDist, lb, threshold, max) {
  const classes = labels.length;
  const found = [];
  for (let i = 0; i < rows.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores[i * classes + c] > scores[i * classes + best]) best = c;
    const score = scores[i * classes + best];
    if (!(score > threshold)) continue;
    // Each side's distance is the expectation of an 11-bin distribution.
    const d = [0, 1, 2, 3].map((side) => {
      const logits = boxDist.subarray((i * 4 + side) * REG_BINS, (i * 4 + side + 1) * REG_BINS);
      const top = Math.max(...logits);
      let sum = 0;
      let weighted = 0;
      logits.forEach((l, bin) => {
        const p = Math.exp(l - top);
        sum += p;
        weighted += p * bin;
      });
      return (weighted / sum) * rows[i].s;
    });
    const { cx, cy } = rows[i];
    const clip = (v, hi) => Math.min(Math.max(v, 0), hi);
    const inBox = [cx - d[0], cy - d[1], cx + d[2], cy + d[3]].map((v) => clip(v, SIZE));
    const box = [
      clip((inBox[0] - lb.padX) / lb.r, lb.w),
      clip((inBox[1] - lb.padY) / lb.r, lb.h),
      clip((inBox[2] - lb.padX) / lb.r, lb.w),
      clip((inBox[3] - lb.padY) / lb.r, lb.h),
    ];
    found.push({ box, cls: best, score });
  }
  // Greedy NMS within each class; a stable sort keeps ties in row order.
  found.sort((a, b) => b.score - a.score);
  const kept = [];
  const suppressed = new Array(found.length).fill(false);
  for (let i = 0; i < found.length && kept.length < max; i++) {
    if (suppressed[i]) continue;
    kept.push(found[i]);
    for (let j = i + 1; j < found.length; j++) {
      if (found[j].cls === found[i].cls && iou(found[i].box, found[j].box) > IOU_THRESHOLD) suppressed[j] = true;
    }
  }
  const round = (v, places) => Math.round(v * 10 ** places) / 10 ** places;
  return kept.map(({ box, cls, score }) => ({
    bbox: [{ x: round(box[0], 2), y: round(box[1], 2) }, { x: round(box[2], 2), y: round(box[3], 2) }],
    class: labels[cls],
    score: round(score, 3),
  }));
}

async function predict(bytes, query) {
  const threshold = Number(query.get("threshold") ?? 0.35);
  const max = Number(query.get("max") ?? 20);
  const { tensor, box } = await preprocess(bytes);
  const out = await session.run({ input: new ort.Tensor(UINT8 ? "uint8" : "float32", tensor, [1, 3, SIZE, SIZE]) });
  return detections(out.scores.data, out.box_dist.data, box, threshold, max);
}

function answer(res, status, body) {
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  if (req.method !== "POST" || url.pathname !== "/predict") {
    return answer(res, 404, { code: "not_found", message: "POST /predict" });
  }
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(chunk);
  });
  req.on("end", () => {
    predict(Buffer.concat(chunks), url.searchParams).then(
      (found) => answer(res, 200, found),
      (e) => answer(res, 422, { code: "invalid_image", message: String(e.message ?? e) }),
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(options.port), "127.0.0.1", () => console.error(`node peer on http://127.0.0.1:${options.port}/`));
