// TF.js coco-ssd itself on image files: what `/predict?model=coco-ssd` is
// held to (tests/coco_ssd.rs). The model is the npm package's TF.js graph
// (the files models/convert_coco_ssd.py converts), loaded by coco-ssd's own
// `load({ base: "lite_mobilenet_v2", modelUrl })` from a loopback server, as
// a page would load it; each photo is decoded by sharp (libvips, EXIF
// orientation applied, as browsers do for <img>) into the int32 [H, W, 3]
// tensor `detect` takes. Runs on TensorFlow.js's pure-JS CPU backend.
//
// usage: node detect.mjs NODE_MODULES MODEL_DIR MAX_BOXES MIN_SCORE IMAGE...
// Prints one JSON line per image:
// {"image", "width", "height", "detections": [{bbox: [x, y, w, h], class, score}]}
// with coco-ssd's answer exactly as `detect(tensor, MAX_BOXES, MIN_SCORE)` gives it.

import { createReadStream } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { join, normalize } from "node:path";

const [nodeModules, modelDir, maxBoxes, minScore, ...images] = process.argv.slice(2);
if (!images.length) {
    console.error("usage: node detect.mjs NODE_MODULES MODEL_DIR MAX_BOXES MIN_SCORE IMAGE...");
    process.exit(2);
}
const require = createRequire(join(nodeModules, "noop.js"));
const tf = require("@tensorflow/tfjs");
const cocoSsd = require("@tensorflow-models/coco-ssd");
const sharp = require("sharp");

// The model's files over HTTP on loopback: coco-ssd's loader fetches a URL.
const server = createServer((req, res) => {
    const file = normalize(join(modelDir, decodeURIComponent(new URL(req.url, "http://x").pathname)));
    if (!file.startsWith(normalize(modelDir))) {
        res.writeHead(404).end();
        return;
    }
    createReadStream(file)
        .on("error", () => res.writeHead(404).end())
        .on("open", () => res.writeHead(200))
        .pipe(res);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const modelUrl = `http://127.0.0.1:${server.address().port}/model.json`;

await tf.setBackend("cpu");
const model = await cocoSsd.load({ base: "lite_mobilenet_v2", modelUrl });
server.close();

for (const image of images) {
    const { data, info } = await sharp(image)
        .rotate()
        .removeAlpha()
        .toColourspace("srgb")
        .raw()
        .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`${image}: ${info.channels} channels after decoding`);
    const pixels = tf.tensor3d(Int32Array.from(data), [info.height, info.width, 3], "int32");
    const detections = await model.detect(pixels, Number(maxBoxes), Number(minScore));
    pixels.dispose();
    console.log(JSON.stringify({ image, width: info.width, height: info.height, detections }));
}
