// A page written for TF.js coco-ssd, run twice in headless Chromium: with
// `@tensorflow-models/coco-ssd` itself (on TensorFlow.js's CPU backend, its
// model the npm package's TF.js graph) and with private mode's drop-in
// (`import { cocoSsd } from "/wasi-detect.js"`), the same calls on the same
// inputs: an <img> as loaded and one laid out smaller, a canvas, ImageData,
// an ImageBitmap, a video frame, a tensor, and non-default `maxNumBoxes` and
// `minScore`. Prints both answers per call as one JSON object;
// tests/coco_ssd.rs compares them.
//
//   node tests/browser/coco-ssd.mjs BASE_URL NODE_MODULES TFJS_MODEL_DIR PHOTOS_DIR
//
// NODE_MODULES holds the coco-ssd reference's packages
// (tests/reference/coco-ssd/install.sh); the page gets them, the TF.js model
// and the photos under /__coco-ssd/ on the server's origin, answered by the
// test (Playwright's routing), not the server.
import { launchChromium } from "./chromium.mjs";
import { readFileSync } from "node:fs";
import { join, normalize } from "node:path";

const [base, nodeModules, modelDir, photosDir] = process.argv.slice(2);
if (!photosDir) {
  console.error("usage: coco-ssd.mjs BASE_URL NODE_MODULES TFJS_MODEL_DIR PHOTOS_DIR");
  process.exit(2);
}

setTimeout(() => {
  console.error("coco-ssd.mjs: no result within 400 s");
  process.exit(3);
}, 400_000).unref();

const started = performance.now();
const log = (what) => console.error(`coco-ssd.mjs ${String(Math.round(performance.now() - started)).padStart(6)} ms: ${what}`);

// What the test serves under /__coco-ssd/: the scripts a coco-ssd page
// loads, the TF.js graph, and the photos.
const files = {
  "tf.min.js": join(nodeModules, "@tensorflow/tfjs/dist/tf.min.js"),
  "coco-ssd.min.js": join(nodeModules, "@tensorflow-models/coco-ssd/dist/coco-ssd.min.js"),
};
const served = (name) => {
  if (files[name]) return files[name];
  const [dir, ...rest] = name.split("/");
  const root = { model: modelDir, photos: photosDir }[dir];
  const file = root && normalize(join(root, ...rest));
  return file && file.startsWith(normalize(root)) ? file : null;
};
const types = { js: "text/javascript", json: "application/json", jpg: "image/jpeg", png: "image/png" };

const browser = await launchChromium();
let seen;
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.route("**/__coco-ssd/**", (route) => {
    const name = new URL(route.request().url()).pathname.replace(/^\/__coco-ssd\//, "");
    const file = served(decodeURIComponent(name));
    let body;
    try {
      body = file && readFileSync(file);
    } catch {
      body = null;
    }
    if (!body) return route.fulfill({ status: 404, body: "" });
    return route.fulfill({ status: 200, body, contentType: types[name.split(".").pop()] ?? "application/octet-stream" });
  });
  // A blank page of the server's origin, so /wasi-detect.js is same-origin.
  await page.route(`${base}__coco-ssd/page.html`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>coco-ssd</title><body></body>" }));
  await page.goto(`${base}__coco-ssd/page.html`);
  await page.addScriptTag({ url: "/__coco-ssd/tf.min.js" });
  await page.addScriptTag({ url: "/__coco-ssd/coco-ssd.min.js" });

  log("loading TF.js coco-ssd and the drop-in");
  const loaded = await page.evaluate(async () => {
    await tf.setBackend("cpu");
    await tf.ready();
    window.__theirs = await window.cocoSsd.load({ base: "lite_mobilenet_v2", modelUrl: "/__coco-ssd/model/model.json" });
    const mod = await import("/wasi-detect.js");
    window.__mod = mod;
    window.__ours = await mod.cocoSsd.load();
    // Another base is another network: refused, not answered by this one.
    const refused = await mod.cocoSsd.load({ base: "mobilenet_v2" }).then(
      () => null,
      (e) => ({ name: e.name, code: e.code, message: e.message }),
    );
    return { backend: tf.getBackend(), refused, methods: Object.keys(window.__ours).sort() };
  });
  log(`loaded (TF.js backend ${loaded.backend})`);

  // Each call: how its input is made, and coco-ssd's arguments.
  const calls = [
    { id: "img astronaut.jpg", input: "img", photo: "astronaut.jpg" },
    { id: "img coffee-rotated.jpg, laid out 240 wide", input: "img", photo: "coffee-rotated.jpg", width: 240 },
    { id: "canvas chelsea.png", input: "canvas", photo: "chelsea.png" },
    { id: "ImageData motorcycle_left.png", input: "imagedata", photo: "motorcycle_left.png" },
    { id: "ImageBitmap camera.png", input: "bitmap", photo: "camera.png" },
    { id: "video frame camera.png", input: "video", photo: "camera.png" },
    { id: "tensor astronaut.png", input: "tensor", photo: "astronaut.png" },
    // At 0.2 coco-ssd also suppresses at 0.2: the dining table under the
    // cup goes, which /predict's own overlap (0.5) would keep.
    { id: "img coffee.png, 5 boxes from 0.2", input: "img", photo: "coffee.png", args: [5, 0.2] },
  ];
  seen = { loaded, calls: {} };
  for (const call of calls) {
    seen.calls[call.id] = await page.evaluate(async (call) => {
      const url = `/__coco-ssd/photos/${call.photo}`;
      const img = new Image();
      img.src = url;
      await img.decode();
      let input = img;
      let cleanup = () => {};
      if (call.input === "img" && call.width) {
        img.style.width = `${call.width}px`;
        document.body.append(img);
        cleanup = () => img.remove();
      } else if (call.input === "canvas" || call.input === "imagedata" || call.input === "video") {
        const canvas = document.createElement("canvas");
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        canvas.getContext("2d").drawImage(img, 0, 0);
        input = canvas;
        if (call.input === "imagedata") {
          input = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
        } else if (call.input === "video") {
          // A video element playing the canvas: its frame, as a camera's.
          const video = document.createElement("video");
          video.muted = true;
          video.srcObject = canvas.captureStream();
          await video.play();
          while (!video.videoWidth) await new Promise((r) => setTimeout(r, 20));
          input = video;
          cleanup = () => video.srcObject.getTracks().forEach((t) => t.stop());
        }
      } else if (call.input === "bitmap") {
        input = await createImageBitmap(await (await fetch(url)).blob());
      } else if (call.input === "tensor") {
        input = tf.browser.fromPixels(img);
        cleanup = () => input.dispose();
      }
      const size = call.input === "img" ? [img.width, img.height] : null;
      const args = call.args ?? [];
      let t = performance.now();
      const theirs = await window.__theirs.detect(input, ...args);
      const theirsMs = performance.now() - t;
      t = performance.now();
      let ours;
      try {
        ours = await window.__ours.detect(input, ...args);
      } catch (e) {
        ours = { error: { name: e.name, code: e.code, message: e.message } };
      }
      const oursMs = performance.now() - t;
      cleanup();
      return { theirs, ours, size, args, ms: { theirs: theirsMs, ours: oursMs } };
    }, call);
    const c = seen.calls[call.id];
    log(`${call.id}: coco-ssd ${c.theirs.length} in ${Math.round(c.ms.theirs)} ms, ours ${c.ours.length ?? "error"} in ${Math.round(c.ms.ours)} ms`);
  }
  seen.notAnImage = await page.evaluate(() => window.__ours.detect("a photo").then(
    (answer) => ({ answer }),
    (e) => ({ isDetectError: e instanceof window.__mod.DetectError, code: e.code, status: e.status, message: e.message }),
  ));
  seen.consoleErrors = consoleErrors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
