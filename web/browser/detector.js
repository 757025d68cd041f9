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
     * options (`threshold`, `max`, `classes`, `model`, `format`); rejects
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

/** `detect`'s options as /predict's query string. */
function predictQuery(options) {
  const query = new URLSearchParams();
  for (const key of ["model", "threshold", "max", "format"]) {
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
