// The wasi:nn shim (web/browser/wasi-nn.js) on its own, in headless
// Chromium: no component, the shim's four interfaces called directly on
// onnxruntime-web as private mode's build ships it. Prints what it saw as
// one JSON object; tests/nn_shim.rs makes the assertions.
//
//   node tests/browser/nn.mjs MODELS_DIR
//
// MODELS_DIR: the graphs tests/fixtures/make_nn_shim_models.py writes.
// onnxruntime-web's files come from the one folder under models/browser/
// (`make browser`). A tiny static server on 127.0.0.1 serves them, the shim
// and the graphs, every answer cross-origin isolated (COOP and COEP) so
// that onnxruntime-web may use threads. The suite runs twice, each in a
// fresh page (a fresh onnxruntime-web): with 2 threads and with 1.
//
// Exits non-zero when the harness itself fails (no build, the page never
// answers); what the shim did, right or wrong, is in the JSON.
import { launchChromium } from "./chromium.mjs";
import { createServer } from "node:http";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const [modelsDir] = process.argv.slice(2);
if (!modelsDir) {
  console.error("usage: nn.mjs MODELS_DIR");
  process.exit(2);
}
const fail = (message) => {
  console.error(`nn.mjs: ${message}`);
  process.exit(1);
};

const root = fileURLToPath(new URL("../../", import.meta.url));
const built = join(root, "models/browser");
const ortFiles = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];
const folders = existsSync(built)
  ? readdirSync(built, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(built, d.name, ortFiles[0])))
      .map((d) => join(built, d.name))
  : [];
if (folders.length !== 1) {
  fail(`want one build folder with onnxruntime-web under ${built}, found ${folders.length}: run \`make browser\``);
}
const ortDir = folders[0];

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
  ".wasm": "application/wasm", ".onnx": "application/octet-stream" };
/** URL path -> file; anything else is a 404. */
const files = new Map([
  ["/wasi-nn.js", join(root, "web/browser/wasi-nn.js")],
  ...ortFiles.map((f) => [`/ort/${f}`, join(ortDir, f)]),
  ...readdirSync(modelsDir).filter((f) => f.endsWith(".onnx")).map((f) => [`/models/${f}`, join(modelsDir, f)]),
]);
const requests = [];
const server = createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  requests.push(path);
  const headers = {
    // Cross-origin isolated, so SharedArrayBuffer and onnxruntime-web's threads work.
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
    "cache-control": "no-store",
  };
  const file = files.get(path);
  if (path === "/") {
    res.writeHead(200, { ...headers, "content-type": TYPES[".html"] });
    res.end("<!doctype html><title>wasi:nn shim</title>");
  } else if (file) {
    res.writeHead(200, { ...headers, "content-type": TYPES[path.slice(path.lastIndexOf("."))] });
    res.end(readFileSync(file));
  } else {
    res.writeHead(404, { ...headers, "content-type": "text/plain" });
    res.end("not found");
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${server.address().port}/`;

/**
 * The suite, run in the page. Self-contained (Playwright sends its source):
 * returns plain data, got next to want, for tests/nn_shim.rs to compare.
 */
async function suite({ threads }) {
  const { createWasiNn, WASI_NN_VERSION } = await import("/wasi-nn.js");
  const ort = await import("/ort/ort.wasm.min.mjs");
  ort.env.wasm.wasmPaths = new URL("/ort/", location.href).href;
  ort.env.wasm.numThreads = threads;

  const out = { crossOriginIsolated: self.crossOriginIsolated, version: WASI_NN_VERSION };
  const bytesOf = (typed) => new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const modelBytes = async (name) => new Uint8Array(await (await fetch(`/models/${name}.onnx`)).arrayBuffer());
  const identityBytes = await modelBytes("identity-fp32");

  const fetched = [];
  const sourcesAsked = [];
  const nn = createWasiNn({
    ort,
    models: {
      "add-one": "/models/add-one.onnx",
      "add-thousand": new URL("/models/add-thousand.onnx", location.href).href,
      // Every kind of source the shim takes, each the identity graph.
      "url-string": "/models/identity-fp32.onnx",
      "url-object": new URL("/models/identity-fp32.onnx", location.href),
      "bytes": identityBytes,
      "array-buffer": identityBytes.slice().buffer,
      "async-bytes": async (name) => { sourcesAsked.push(name); return identityBytes; },
      "async-url": async (name) => { sourcesAsked.push(name); return "/models/identity-fp32.onnx"; },
      "sync-bytes": (name) => { sourcesAsked.push(name); return identityBytes; },
      // And the ones that must fail.
      "http-404": "/models/no-such-file.onnx",
      "garbage": new Uint8Array([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7]),
      "async-rejects": async () => { throw new Error("the model store is offline"); },
    },
    // Records the URLs the shim fetches, then fetches them.
    fetch: (url) => { fetched.push(String(url)); return fetch(url); },
  });
  const { Tensor } = nn.tensor;

  /** What a call threw, as the component would see it; `instance`: the shim the call went to. */
  const thrown = async (f, instance = nn) => {
    try {
      const value = await f();
      return { threw: false, value: String(value) };
    } catch (e) {
      const payload = e !== null && typeof e === "object" && Object.hasOwn(e, "payload") ? e.payload : undefined;
      return {
        threw: true,
        hasPayload: payload !== undefined,
        isNnError: payload instanceof instance.errors.Error,
        code: typeof payload?.code === "function" ? payload.code() : null,
        data: typeof payload?.data === "function" ? payload.data() : null,
        raw: payload === undefined ? String(e?.stack ?? e) : null,
      };
    }
  };
  const f32 = (values) => bytesOf(Float32Array.from(values));
  /** One output of a compute as plain data. */
  const described = ([name, t]) => ({ name, dims: Array.from(t.dimensions()), ty: t.ty(), hex: hex(t.data()) });
  /** Compares a float output with what it should be, element by element. */
  const checkFloats = (tensor, want) => {
    const data = tensor.data();
    const got = new Float32Array(data.slice().buffer);
    let firstDiff = null;
    if (got.length === want.length) {
      for (let i = 0; i < got.length; i++) {
        if (!Object.is(got[i], want[i])) { firstDiff = { index: i, got: got[i], want: want[i] }; break; }
      }
    }
    return { length: got.length, wantLength: want.length, firstDiff, dims: Array.from(tensor.dimensions()) };
  };
  const output = (outputs, name) => outputs.find(([n]) => n === name)?.[1];
  /**
   * Runs one part of the suite into `out[name]`; a part that throws
   * records why (in `failed`), and the others still run.
   */
  const section = async (name, body) => {
    const s = (out[name] = {});
    try {
      await body(s);
    } catch (e) {
      s.failed = typeof e?.payload?.code === "function"
        ? `wasi:nn error ${e.payload.code()}: ${e.payload.data()}`
        : String(e?.stack ?? e);
    }
  };

  // First, before anything has initialised onnxruntime-web: two graphs
  // loaded at once, then their contexts computing at once (all the
  // promises in flight together), each with its own input; the inputs
  // are 256 KB, so copying them in and out takes a while.
  await section("contexts", async (s) => {
    const n = 1 << 16;
    const x1 = Float32Array.from({ length: n }, (_, i) => i);
    const x2 = Float32Array.from({ length: n }, (_, i) => -3 * i);
    const [g1, g2] = await Promise.all([nn.graph.loadByName("add-one"), nn.graph.loadByName("add-thousand")]);
    out.numThreads = ort.env.wasm.numThreads;
    const [c1, c2] = [g1.initExecutionContext(), g2.initExecutionContext()];
    const [o1, o2] = await Promise.all([
      c1.compute([["x", new Tensor([n], "FP32", bytesOf(x1))]]),
      c2.compute([["a", new Tensor([n], "FP32", bytesOf(x2))]]),
    ]);
    s.twoGraphs = {
      names: [o1.map(([name]) => name), o2.map(([name]) => name)],
      y: checkFloats(output(o1, "y"), x1.map((v) => v + 1)),
      b: checkFloats(output(o2, "b"), x2.map((v) => v + 1000)),
      c: checkFloats(output(o2, "c"), x2.map((v) => -v)),
    };

    // One model loaded twice: two graphs, the same weights.
    const [h1, h2] = await Promise.all([nn.graph.loadByName("add-one"), nn.graph.loadByName("add-one")]);
    const small = Float32Array.from({ length: n / 2 }, (_, i) => 7 * i);
    const [p1, p2] = await Promise.all([
      h1.initExecutionContext().compute([["x", new Tensor([n], "FP32", bytesOf(x2))]]),
      h2.initExecutionContext().compute([["x", new Tensor([n / 2], "FP32", bytesOf(small))]]),
    ]);
    s.sameModelTwice = {
      first: checkFloats(output(p1, "y"), x2.map((v) => v + 1)),
      second: checkFloats(output(p2, "y"), small.map((v) => v + 1)),
    };

    // Two contexts of the same graph, and four computes at once across them.
    const [ca, cb] = [g1.initExecutionContext(), g1.initExecutionContext()];
    const inputs = [x1, x2, small, Float32Array.from({ length: 1000 }, (_, i) => 0.5 * i)];
    const outs = await Promise.all(inputs.map((x, i) =>
      (i % 2 ? cb : ca).compute([["x", new Tensor([x.length], "FP32", bytesOf(x))]])));
    s.sameGraph = outs.map((o, i) => checkFloats(output(o, "y"), inputs[i].map((v) => v + 1)));

    // An earlier output stays as it was when its context computes again.
    const before = output(outs[0], "y");
    const beforeHex = hex(before.data());
    await ca.compute([["x", new Tensor([n], "FP32", bytesOf(x2))]]);
    await c1.compute([["x", new Tensor([n], "FP32", bytesOf(x2))]]);
    s.earlierOutputKept = hex(before.data()) === beforeHex;
  });

  // Tensors: what goes in comes back, bare and through identity graphs,
  // bit for bit (negative zero, NaN payloads, subnormals, the extremes).
  await section("tensors", async (s) => {
    const bytes = f32([1.5, -0, Infinity, 1e-45, 3.4028234663852886e38, -2]);
    const t = new Tensor([2, 3], "FP32", bytes);
    s.bare = {
      dims: Array.from(t.dimensions()),
      ty: t.ty(),
      hex: hex(t.data()),
      want: hex(bytes),
    };
    const nan32 = new Uint8Array(new Uint32Array([0x7fc00001, 0xffa00000]).buffer);
    const patterns = {
      FP32: [[2, 3], new Uint8Array([...bytes.slice(0, 16), ...nan32])],
      FP16: [[3, 2], bytesOf(new Uint16Array([0x3c00, 0x8000, 0x7e01, 0x7c00, 0x0001, 0xfbff]))],
      FP64: [[1, 4], bytesOf(new BigUint64Array([0x400921fb54442d18n, 0x8000000000000000n, 0x7ff8000000000001n, 1n]))],
      U8: [[2, 4], new Uint8Array([0, 1, 127, 128, 129, 200, 254, 255])],
      I32: [[3, 1], bytesOf(new Int32Array([-2147483648, 2147483647, -1]))],
      I64: [[2, 2], bytesOf(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, -1n, 2n ** 53n + 1n]))],
    };
    s.identity = {};
    for (const [ty, [dims, data]] of Object.entries(patterns)) {
      const graph = await nn.graph.load([await modelBytes(`identity-${ty.toLowerCase()}`)], "onnx", "cpu");
      const outputs = await graph.initExecutionContext().compute([["x", new Tensor(dims, ty, data)]]);
      s.identity[ty] = { got: outputs.map(described), want: [{ name: "y", dims, ty, hex: hex(data) }] };
    }

    // Input bytes at an odd offset of their buffer, as a component's
    // memory may hand them over: the shim copies them to align them.
    s.unaligned = {};
    for (const ty of ["FP32", "I64"]) {
      const [dims, data] = patterns[ty];
      const buffer = new Uint8Array(data.length + 3);
      buffer.set(data, 1);
      const view = buffer.subarray(1, 1 + data.length);
      const tensor = new Tensor(dims, ty, view);
      const graph = await nn.graph.load([await modelBytes(`identity-${ty.toLowerCase()}`)], "onnx", "cpu");
      const outputs = await graph.initExecutionContext().compute([["x", tensor]]);
      s.unaligned[ty] = {
        offset: tensor.data().byteOffset,
        got: outputs.map(described),
        want: [{ name: "y", dims, ty, hex: hex(data) }],
        inputUntouched: hex(tensor.data()) === hex(data),
      };
    }
  });

  // Every kind of model source for load-by-name.
  await section("sources", async (s) => {
    s.byName = {};
    const x = f32([1, 2, 3, 4, 5, 6]);
    for (const name of ["url-string", "url-object", "bytes", "array-buffer", "async-bytes", "async-url", "sync-bytes"]) {
      const result = await thrown(async () => {
        const graph = await nn.graph.loadByName(name);
        const outputs = await graph.initExecutionContext().compute([["x", new Tensor([2, 3], "FP32", x)]]);
        return JSON.stringify(outputs.map(described));
      });
      s.byName[name] = { ...result, want: JSON.stringify([{ name: "y", dims: [2, 3], ty: "FP32", hex: hex(x) }]) };
    }
    s.sourcesAsked = sourcesAsked;
    s.fetched = fetched.map((u) => new URL(u, location.href).pathname);
    // The default fetch: the page's own.
    const plain = createWasiNn({ ort, models: { "add-one": "/models/add-one.onnx" } });
    s.defaultFetch = await thrown(async () => {
      const graph = await plain.graph.loadByName("add-one");
      const outputs = await graph.initExecutionContext().compute([["x", new plain.tensor.Tensor([2], "FP32", f32([1, 2]))]]);
      return hex(outputs[0][1].data());
    });
    s.defaultFetchWant = hex(f32([2, 3]));
  });

  // Errors carry their codes and say what is wrong.
  await section("errors", async (s) => {
    const graph = await nn.graph.load([identityBytes], "onnx", "cpu");
    const context = graph.initExecutionContext();
    const ok = () => new Tensor([2, 3], "FP32", f32([1, 2, 3, 4, 5, 6]));
    // A network that fails: the request, or the body halfway.
    const offline = createWasiNn({
      ort,
      models: { offline: "/models/add-one.onnx", "cut-off": "/models/cut-off.onnx" },
      fetch: async (url) => {
        if (url.endsWith("add-one.onnx")) throw new TypeError("Failed to fetch");
        return { ok: true, status: 200, arrayBuffer: async () => { throw new TypeError("network error"); } };
      },
    });
    const other = createWasiNn({ ort });
    s.cases = {
      unknownName: await thrown(() => nn.graph.loadByName("no-such-model")),
      inheritedName: await thrown(() => nn.graph.loadByName("constructor")),
      garbageBytes: await thrown(() => nn.graph.load([new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3])], "onnx", "cpu")),
      garbageByName: await thrown(() => nn.graph.loadByName("garbage")),
      openvino: await thrown(() => nn.graph.load([identityBytes], "openvino", "cpu")),
      gpu: await thrown(() => nn.graph.load([identityBytes], "onnx", "gpu")),
      twoParts: await thrown(() => nn.graph.load([identityBytes, identityBytes], "onnx", "cpu")),
      http404: await thrown(() => nn.graph.loadByName("http-404")),
      fetchRejects: await thrown(() => offline.graph.loadByName("offline"), offline),
      bodyFails: await thrown(() => offline.graph.loadByName("cut-off"), offline),
      sourceRejects: await thrown(() => nn.graph.loadByName("async-rejects")),
      wrongInputName: await thrown(() => context.compute([["nope", ok()]])),
      missingInput: await thrown(() => context.compute([])),
      shortData: await thrown(() => context.compute([["x", new Tensor([2, 3], "FP32", new Uint8Array(20))]])),
      longData: await thrown(() => context.compute([["x", new Tensor([2, 3], "FP32", new Uint8Array(28))]])),
      wrongType: await thrown(() => context.compute([["x", new Tensor([2, 3], "I32", new Uint8Array(24))]])),
      bf16: await thrown(() => context.compute([["x", new Tensor([2, 3], "BF16", new Uint8Array(12))]])),
      notATensor: await thrown(() => context.compute([["x", { dimensions: () => [2, 3] }]])),
      otherInstancesTensor: await thrown(() => context.compute([["x", new other.tensor.Tensor([2, 3], "FP32", f32([1, 2, 3, 4, 5, 6]))]])),
      // The context still works after all of that.
      afterErrors: await thrown(async () => hex((await context.compute([["x", ok()]]))[0][1].data())),
    };
    s.afterErrorsWant = hex(f32([1, 2, 3, 4, 5, 6]));
    const unknown = new nn.errors.Error("no-such-code", "why");
    s.errorResource = { code: unknown.code(), data: unknown.data() };
  });

  out.imports = Object.keys(nn.imports()).sort();
  out.importsAreTheInterfaces = nn.imports()[`wasi:nn/graph@${WASI_NN_VERSION}`] === nn.graph
    && nn.imports()[`wasi:nn/tensor@${WASI_NN_VERSION}`].Tensor === Tensor;
  out.numThreadsAtEnd = ort.env.wasm.numThreads;
  return out;
}

const browser = await launchChromium();
const results = {};
try {
  for (const [run, threads] of [["threads", 2], ["single", 1]]) {
    // A fresh context per run: a fresh onnxruntime-web, its own thread pool.
    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleErrors = [];
    // The 404s the suite provokes on purpose are logged by the browser.
    page.on("console", (m) => {
      if (m.type() === "error" && !/status of 404/.test(m.text())) consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    await page.goto(base);
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the ${run} run did not finish in 120 s`)), 120_000);
    });
    try {
      results[run] = await Promise.race([page.evaluate(suite, { threads }), timeout]);
    } catch (e) {
      fail(`the ${run} run failed: ${e.stack || e}`);
    } finally {
      clearTimeout(timer);
    }
    results[run].consoleErrors = consoleErrors;
    // onnxruntime-web's threads are workers of the page.
    results[run].workers = page.workers().length;
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}
results.requests = [...new Set(requests)].sort();
console.log(JSON.stringify(results));
