// Private mode: the detector component itself, transpiled by jco, running in
// the visitor's page. A photo given to `detect` goes through the component's
// own HTTP handler, called in memory (preview2-shim's
// `handleIncomingRequest`), so the page gets exactly what `POST /predict`
// answers: the same decoding, letterbox, tensor, decoder, JSON and errors.
// Only the engine behind wasi:nn differs: onnxruntime-web (./wasi-nn.js).
//
//   import { load } from "https://host/wasi-detect.js";
//   const detector = await load();
//   const boxes = await detector.detect(file, { threshold: 0.3, classes: ["person"] });
//
// TF.js coco-ssd's own call, for pages written for it (`cocoSsd`, below):
//
//   import { cocoSsd } from "https://host/wasi-detect.js";
//   const model = await cocoSsd.load();
//   const predictions = await model.detect(img); // [{ bbox: [x, y, w, h], class, score }]
//
// `make setup` bundles this file with the transpiled component and
// preview2-shim (scripts/build-browser.sh); the server serves the bundle
// under /browser/<content hash>/, beside onnxruntime-web's files.

import { instantiate } from "./component/detector.js";
import { createWasiNn } from "./wasi-nn.js";
import { createCli } from "@bytecodealliance/preview2-shim/cli";
import * as clocks from "@bytecodealliance/preview2-shim/clocks";
import { createFilesystem, InMemoryFilesystemAdapter } from "@bytecodealliance/preview2-shim/filesystem";
import * as http from "@bytecodealliance/preview2-shim/http";
import * as io from "@bytecodealliance/preview2-shim/io";
import * as random from "@bytecodealliance/preview2-shim/random";

/** Where the bundle, the core wasm and onnxruntime-web's files are. */
const HERE = new URL("./", import.meta.url);
/** The server that built them: its /models and model files. */
const SERVER = new URL("../../", HERE);
/** Where the component finds model folders (its WASI_DETECT_MODELS_DIR). */
const MODELS_DIR = "/models";

/** Whether this browser can run private mode: JSPI (Chromium 137+). */
export function supported() {
  return typeof WebAssembly.Suspending === "function" && typeof WebAssembly.promising === "function";
}

/** A rejection in the server's words: `code` and `message` as /predict's. */
export class DetectError extends Error {
  constructor({ code, message, available }, status) {
    super(message);
    this.name = "DetectError";
    this.code = code;
    this.status = status;
    if (available) this.available = available;
  }
}

/**
 * Loads the detector: onnxruntime-web, the component, and the model
 * (`options.model`, else the server's default), and runs it once, so no
 * `detect` waits for the model's load. Fetches each file once; the
 * browser's cache keeps them for the next visit.
 *
 * Options: `model`; `threads` (onnxruntime-web's threads; default: the
 * cores, up to 4, when the page is cross-origin isolated, else 1).
 */
export async function load(options = {}) {
  if (!supported()) {
    throw new DetectError(
      {
        code: "unsupported_browser",
        message:
          "this browser cannot run the detector: it needs WebAssembly JavaScript Promise Integration (Chrome, Edge or another Chromium 137 or later)",
      },
      0,
    );
  }
  const served = await fetchJson(new URL("models", SERVER));
  const names = served.models.filter((m) => !m.error).map((m) => m.name);

  const ort = await import(new URL("./ort.wasm.min.mjs", HERE).href);
  ort.env.wasm.wasmPaths = HERE.href;
  ort.env.wasm.numThreads = options.threads ?? defaultThreads();

  // The component's view of the server's models folder: each model's
  // manifest.json and labels.txt, added as it is first used. The weights
  // go to the wasi:nn shim, by name, as the native host preloads them.
  const modelsTree = { dir: {} };
  const weights = {};
  const nn = createWasiNn({ ort, models: weights });
  const filesystem = createFilesystem({
    adapter: new InMemoryFilesystemAdapter(),
    preopens: { [MODELS_DIR]: modelsTree },
  });
  const cli = createCli({
    environment: {
      WASI_DETECT_MODELS_DIR: MODELS_DIR,
      WASI_DETECT_MODEL: served.default,
      WASI_DETECT_MODELS: names.join(","),
    },
  });
  const imports = importObject({
    ...wasiInterfaces({ cli, clocks, filesystem, http: { types: http.types }, io, random }),
    ...nn.imports(),
  });
  const component = await instantiate(
    (path) => WebAssembly.compileStreaming(fetch(new URL(path, HERE))),
    imports,
  );

  async function ensureModel(name) {
    if (modelsTree.dir[name] || !names.includes(name)) return;
    const base = new URL(`models/${encodeURIComponent(name)}/`, SERVER);
    const [manifest, labels] = await Promise.all(
      ["manifest.json", "labels.txt"].map((file) => fetchBytes(new URL(file, base))),
    );
    weights[name] = new URL("model.onnx", base).href;
    modelsTree.dir[name] = {
      dir: { "manifest.json": { source: manifest }, "labels.txt": { source: labels } },
    };
  }

  // One request at a time: the component is one instance, and a call must
  // not enter it while another is suspended in `compute`.
  let queue = Promise.resolve();
  const serially = (task) => {
    const run = queue.then(task, task);
    queue = run.catch(() => {});
    return run;
  };

  /** Runs one request through the component's HTTP handler. */
  async function call(method, path, query, body, type) {
    const model = query.get("model") ?? served.default;
    await ensureModel(model);
    const headers = type ? { "content-type": type } : {};
    const url = new URL(`${path}?${query}`, SERVER);
    const request = new Request(url, { method, headers, body });
    const response = await http.handleIncomingRequest(request, component.incomingHandler.handle);
    const answer = await response.json();
    detector.lastTiming = serverTiming(response.headers.get("server-timing"));
    if (!response.ok) throw new DetectError(answer, response.status);
    return answer;
  }

  const detector = {
    /** The models the server serves (its `GET /models`). */
    models: served,
    /** The last answer's steps in milliseconds (its `Server-Timing`). */
    lastTiming: {},
    /**
     * Detects objects in `input`: a Blob or File (its `type` is the content
     * type), or bytes (Uint8Array, ArrayBuffer) with `options.type`.
     * Resolves to what `POST /predict` answers for the same image and
     * options (`threshold`, `max`, `iou`, `classes`, `model`, `format`); rejects
     * with a `DetectError` carrying the server's `code` and `message`.
     */
    detect(input, options = {}) {
      return serially(async () => {
        const { body, type } = await bodyOf(input, options.type);
        return call("POST", "predict", predictQuery(options), body, type);
      });
    },
    /** Loads `model` (default: the server's default) and runs it once. */
    warm(model) {
      const query = new URLSearchParams(model ? { model } : {});
      return serially(() => call("GET", "warm", query));
    },
  };
  await detector.warm(options.model);
  return detector;
}

/**
 * TF.js coco-ssd's API (`@tensorflow-models/coco-ssd` 2.x) on this detector,
 * for a page written for it: `import * as cocoSsd from
 * "@tensorflow-models/coco-ssd"` becomes `import { cocoSsd } from
 * "https://host/wasi-detect.js"`, and the rest stays. `load()` resolves to
 * a model whose `detect(img, maxNumBoxes = 20, minScore = 0.5)` answers as
 * coco-ssd's does: `[{ bbox: [x, y, width, height], class, score }]`, best
 * first, in the pixels coco-ssd would give (an `<img>`'s as laid out, a
 * video's frame, a canvas's), found by the same network (SSDLite
 * MobileNetV2, the server's `coco-ssd`) with the same suppression (at
 * `minScore`, across classes).
 */
export const cocoSsd = {
  /**
   * `config`: coco-ssd's `base` (only its default, `lite_mobilenet_v2`, is
   * this network; another is refused rather than answered by a different
   * one) and `modelUrl` (ignored: the weights are the server's); ours,
   * `model` (the server's name for it, default `coco-ssd`) and `threads`.
   */
  async load(config = {}) {
    if (config.base !== undefined && config.base !== "lite_mobilenet_v2") {
      throw new DetectError(
        {
          code: "invalid_parameter",
          message: `base '${config.base}': only coco-ssd's default, 'lite_mobilenet_v2' (SSDLite MobileNetV2), is served`,
        },
        400,
      );
    }
    const model = config.model ?? "coco-ssd";
    const detector = await load({ model, threads: config.threads });
    return {
      /** coco-ssd's `detect`; `maxNumBoxes` above 100 counts as 100. */
      async detect(img, maxNumBoxes = 20, minScore = 0.5) {
        const { body, type } = await encodedImage(img);
        const found = await detector.detect(body, {
          model,
          type,
          max: Math.min(maxNumBoxes, 100),
          threshold: minScore,
          iou: minScore,
        });
        return found.map(({ bbox: [a, b], class: name, score }) => ({
          bbox: [a.x, a.y, b.x - a.x, b.y - a.y],
          class: name,
          score,
        }));
      },
      /** Nothing to free: the page's detector stays loaded for `load`. */
      dispose() {},
    };
  },
};

/**
 * What coco-ssd's `detect` takes (an `<img>`, `<canvas>`, `<video>`,
 * `ImageBitmap`, `ImageData`, an `[h, w, 3]` tensor), or a Blob, as a body
 * for /predict: the pixels coco-ssd would read, so the boxes come back in
 * its coordinates. An `<img>` at its own size is sent as its file (from the
 * browser's cache); the rest are drawn and sent as PNG, losslessly.
 */
async function encodedImage(img) {
  if (img instanceof Blob) return { body: img, type: img.type };
  if (typeof HTMLImageElement !== "undefined" && img instanceof HTMLImageElement) {
    if (!img.complete || !img.naturalWidth) await img.decode();
    // coco-ssd reads an <img> drawn at its laid-out size: at its own size,
    // its file is those pixels (and the server's answer for it); laid out
    // smaller or larger, the model sees other pixels, drawn as coco-ssd
    // draws them.
    if (img.width === img.naturalWidth && img.height === img.naturalHeight) {
      const file = await fetch(img.currentSrc || img.src).then((r) => (r.ok ? r.blob() : null), () => null);
      if (file && ["image/jpeg", "image/png"].includes(file.type)) return { body: file, type: file.type };
    }
    return png(img, img.width, img.height);
  }
  if (typeof HTMLVideoElement !== "undefined" && img instanceof HTMLVideoElement) {
    return png(img, img.videoWidth, img.videoHeight);
  }
  if (typeof ImageData !== "undefined" && img instanceof ImageData) {
    // Made opaque: coco-ssd reads the colours and ignores alpha, which a
    // canvas would multiply into them.
    const rgba = new Uint8ClampedArray(img.data);
    for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
    return rgbaPng(rgba, img.width, img.height);
  }
  if (img && Array.isArray(img.shape) && typeof img.data === "function") {
    return tensorPng(img);
  }
  if (img && typeof img.width === "number" && typeof img.height === "number") {
    // A canvas (either kind) or an ImageBitmap.
    return png(img, img.width, img.height);
  }
  throw new DetectError(
    {
      code: "bad_request",
      message: "detect takes an image, canvas, video, ImageBitmap, ImageData, [height, width, 3] tensor or Blob",
    },
    400,
  );
}

/** `source` drawn at `width` x `height`, as a PNG body. */
async function png(source, width, height) {
  if (!width || !height) {
    throw new DetectError({ code: "bad_request", message: "the image has no pixels yet (not loaded?)" }, 400);
  }
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext("2d").drawImage(source, 0, 0, width, height);
  return { body: await canvas.convertToBlob({ type: "image/png" }), type: "image/png" };
}

/** A TF.js `[height, width, 3]` tensor of 0..255 values, as a PNG body. */
async function tensorPng(tensor) {
  const [height, width, channels] = tensor.shape;
  if (tensor.shape.length !== 3 || channels !== 3) {
    throw new DetectError({ code: "bad_request", message: `a tensor of shape [${tensor.shape}], not [height, width, 3]` }, 400);
  }
  const values = await tensor.data();
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgba[i] = values[j];
    rgba[i + 1] = values[j + 1];
    rgba[i + 2] = values[j + 2];
    rgba[i + 3] = 255;
  }
  return rgbaPng(rgba, width, height);
}

/** Opaque RGBA pixels as a PNG body. */
async function rgbaPng(rgba, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
  return { body: await canvas.convertToBlob({ type: "image/png" }), type: "image/png" };
}

/** `detect`'s options as /predict's query string. */
function predictQuery(options) {
  const query = new URLSearchParams();
  for (const key of ["model", "threshold", "max", "iou", "format"]) {
    if (options[key] !== undefined && options[key] !== null) query.set(key, String(options[key]));
  }
  if (options.classes !== undefined) {
    const classes = Array.isArray(options.classes) ? options.classes.join(",") : String(options.classes);
    query.set("classes", classes);
  }
  return query;
}

async function bodyOf(input, type) {
  // A Blob goes into the Request as it is: preview2-shim reads the request's
  // body once anyway, so reading it here first was a second read and copy.
  if (input instanceof Blob) return { body: input, type: type ?? input.type };
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
    const bytes = ArrayBuffer.isView(input)
      ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
      : new Uint8Array(input);
    return { body: bytes, type };
  }
  throw new DetectError(
    { code: "bad_request", message: "detect takes a Blob, a File, a Uint8Array or an ArrayBuffer" },
    400,
  );
}

function defaultThreads() {
  return globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
}

/** `load;dur=1.2, inference;dur=30` as `{ load: 1.2, inference: 30 }`. */
function serverTiming(header) {
  const steps = {};
  for (const part of (header || "").split(",")) {
    const match = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
    if (match) steps[match[1]] = Number(match[2]);
  }
  return steps;
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new DetectError(
      { code: "model_unavailable", message: `${url.pathname} could not be fetched: HTTP ${response.status}` },
      503,
    );
  }
  return new Uint8Array(await response.arrayBuffer());
}

async function fetchJson(url) {
  return JSON.parse(new TextDecoder().decode(await fetchBytes(url)));
}

/** preview2-shim's packages by WASI interface name: `wasi:cli/environment`. */
function wasiInterfaces(packages) {
  const byName = {};
  for (const [pkg, interfaces] of Object.entries(packages)) {
    for (const [name, value] of Object.entries(interfaces)) {
      if (typeof value === "object") byName[`wasi:${pkg}/${kebab(name)}`] = value;
    }
  }
  return byName;
}

/**
 * jco's import object. The component names each interface with the version
 * its bindings were made at (`wasi:cli/environment@0.2.6`), and jco looks
 * some up without it: a name is found with or without its version.
 */
function importObject(interfaces) {
  const unversioned = (name) => name.split("@")[0];
  const byName = {};
  for (const [name, value] of Object.entries(interfaces)) byName[unversioned(name)] = value;
  return new Proxy(byName, {
    get: (target, key) => (typeof key === "string" ? target[unversioned(key)] : undefined),
    has: (target, key) => typeof key === "string" && unversioned(key) in target,
  });
}

/** `terminalInput` as `terminal-input`. */
function kebab(name) {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
