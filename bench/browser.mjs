// Private mode in headless Chromium, for bench/private.py: onnxruntime-web
// alone against `detector.detect` end to end, and the first load.
//
//   node bench/browser.mjs CONFIG.json
//
// CONFIG (written by private.py): the server (`base`), the thread settings,
// the runs, the images and the models' input tensors (files of their dtype's
// values, uint8 or float32).
// Prints one JSON object of raw samples (ms); private.py makes the figures.
//
// Every page is the server's own `GET /`, cross-origin isolated (COOP and
// COEP), so onnxruntime-web has SharedArrayBuffer and its threads. The files
// are the ones the server serves: `/wasi-detect.js`, `/browser/<hash>/...`
// and `/models/<name>/model.onnx`. Nothing leaves the loopback.
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// playwright-core is the page test's (tests/browser, `make browser-deps`).
const require = createRequire(new URL("../tests/browser/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { base } = config;
const launch = {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // As tests/browser/page.mjs: no network beyond loopback.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
};
const log = (...a) => console.error("[browser]", ...a);
const b64 = (path) => readFileSync(path).toString("base64");

/** The server's page, loaded and settled (its own /models and /warm done). */
async function openPage(context) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${base}/`);
  await page.waitForSelector("body[data-state=ready], body[data-state=failed]", { timeout: 60_000 });
  if (!(await page.evaluate(() => globalThis.crossOriginIsolated))) {
    throw new Error(`${base}/ is not cross-origin isolated (COOP/COEP): onnxruntime-web would run one thread`);
  }
  page.errors = errors;
  return page;
}

// --- in the page ------------------------------------------------------------

/** onnxruntime-web alone: the served build, the served model, one session. */
async function ortSetup({ base, threads, model, tensor, shape, dtype }) {
  // The served folder, from the entry module (`./browser/<hash>/detector.js`).
  const entry = await (await fetch(`${base}/wasi-detect.js`)).text();
  const folder = new URL(/["'](\.\/browser\/[^"']+\/)detector\.js/.exec(entry)[1], `${base}/`).href;
  const ort = await import(`${folder}ort.wasm.min.mjs`);
  ort.env.wasm.wasmPaths = folder;
  ort.env.wasm.numThreads = threads;
  const bytes = new Uint8Array(await (await fetch(`${base}/models/${model}/model.onnx`)).arrayBuffer());
  // The shim's session: default options (wasi-nn.js's `sessionOptions = {}`).
  const session = await ort.InferenceSession.create(bytes, {});
  const raw = Uint8Array.from(atob(tensor), (c) => c.charCodeAt(0));
  const values = dtype === "uint8" ? raw : new Float32Array(raw.buffer);
  const input = new ort.Tensor(dtype, values, shape);
  const feeds = { [session.inputNames[0]]: input };
  globalThis.bench = { run: () => session.run(feeds) };
  return { threads: ort.env.wasm.numThreads };
}

/** The detector: `load()` from the served entry, the photos as Blobs. */
async function detectorSetup({ base, threads, model, images }) {
  const { load } = await import(`${base}/wasi-detect.js`);
  const detector = await load({ model, threads });
  const blobs = {};
  for (const { name, data, type } of images) {
    blobs[name] = new Blob([Uint8Array.from(atob(data), (c) => c.charCodeAt(0))], { type });
  }
  globalThis.bench = { run: (name) => detector.detect(blobs[name], { model }), detector };
  const found = {};
  for (const name of Object.keys(blobs)) found[name] = (await bench.run(name)).length;
  return { found };
}

/** `runs` timed calls of `bench.run(arg)`, and each answer's steps. */
async function timed({ runs, arg }) {
  const samples = [];
  const steps = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await globalThis.bench.run(arg);
    samples.push(performance.now() - start);
    if (globalThis.bench.detector) steps.push(globalThis.bench.detector.lastTiming);
  }
  return { samples, steps };
}

/** From `import()` of the entry to `load()` resolved. */
async function firstLoad({ base, threads, model }) {
  const start = performance.now();
  const { load } = await import(`${base}/wasi-detect.js`);
  const imported = performance.now();
  const detector = await load({ model, threads });
  const end = performance.now();
  return { ms: end - start, import_ms: imported - start, steps: detector.lastTiming };
}

// --- the measurements ---------------------------------------------------------

/**
 * One thread setting: onnxruntime-web alone and the detector, each in its own
 * context (numThreads is set once per page, before the first session), warmed
 * up, then timed in turns (a batch of each in every round) so that what else
 * the machine does falls on both alike.
 */
async function latency(browser, { threads, model, tensor, shape, dtype, images }) {
  const ortContext = await browser.newContext();
  const e2eContext = await browser.newContext();
  try {
    const ortPage = await openPage(ortContext);
    const ort = await ortPage.evaluate(ortSetup, { base, threads, model, tensor: b64(tensor), shape, dtype });
    const e2ePage = await openPage(e2eContext);
    const e2e = await e2ePage.evaluate(detectorSetup, {
      base, threads, model,
      images: images.map((i) => ({ name: i.name, type: i.type, data: b64(i.path) })),
    });
    log(`${model}, ${threads} thread(s): loaded; detections ${JSON.stringify(e2e.found)}`);

    await ortPage.evaluate(timed, { runs: config.warmup.ort });
    for (const image of images) await e2ePage.evaluate(timed, { runs: config.warmup.e2e, arg: image.name });
    const out = { threads, ort_threads: ort.threads, ort: [], e2e: {}, steps: {}, found: e2e.found };
    for (const image of images) {
      out.e2e[image.name] = [];
      out.steps[image.name] = [];
    }
    const rounds = config.rounds;
    const share = (n, round) => Math.floor((n * (round + 1)) / rounds) - Math.floor((n * round) / rounds);
    for (let round = 0; round < rounds; round++) {
      out.ort.push(...(await ortPage.evaluate(timed, { runs: share(config.ort_runs, round) })).samples);
      for (const image of images) {
        const got = await e2ePage.evaluate(timed, { runs: share(image.runs, round), arg: image.name });
        out.e2e[image.name].push(...got.samples);
        out.steps[image.name].push(...got.steps);
      }
    }
    out.page_errors = [...ortPage.errors, ...e2ePage.errors];
    return out;
  } finally {
    await ortContext.close();
    await e2eContext.close();
  }
}

/**
 * The first visit with an empty cache and the second with the cache the
 * first filled: `import()` to `load()` resolved, and what came over the
 * network per file (Network.loadingFinished's encodedDataLength: the bytes
 * received as sent, gzipped or not, headers included; 0 for a cache hit). A persistent profile, so
 * the cache is a disk cache as a visitor's: an incognito context's is in
 * memory and keeps no file over 10 MB (the model, onnxruntime-web's wasm).
 */
async function visits({ threads, model }) {
  const profile = mkdtempSync(join(tmpdir(), "wasi-detect-bench-"));
  const context = await chromium.launchPersistentContext(profile, launch);
  try {
    const page = await openPage(context);
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    let requests = new Map();
    const entry = (id) => requests.get(id) ?? requests.set(id, { cached: false }).get(id);
    cdp.on("Network.requestWillBeSent", (e) => { entry(e.requestId).url = e.request.url; });
    cdp.on("Network.requestServedFromCache", (e) => { entry(e.requestId).cached = true; });
    cdp.on("Network.responseReceived", (e) => {
      const r = entry(e.requestId);
      r.status = e.response.status;
      r.cached ||= Boolean(e.response.fromDiskCache || e.response.fromPrefetchCache);
    });
    // The status on the wire: a revalidated file is a 304 there, and a 200
    // from the cache to the page.
    cdp.on("Network.responseReceivedExtraInfo", (e) => { entry(e.requestId).wire = e.statusCode; });
    cdp.on("Network.loadingFinished", (e) => { entry(e.requestId).bytes = e.encodedDataLength; });
    cdp.on("Network.loadingFailed", (e) => { entry(e.requestId).failed = e.errorText; });
    // A worker's script request is handed to the worker, whose own
    // session reports it (onnxruntime-web's threads load the module the page
    // has just loaded, from the cache): nothing of it shows here.
    const handed = (r) => r.status === undefined && r.bytes === undefined && !r.failed;
    const files = () => [...requests.values()].filter((r) => r.url && !handed(r)).map((r) => ({
      path: r.url.startsWith(base) ? r.url.slice(base.length) : r.url,
      status: r.cached ? "cache" : String(r.wire ?? r.status ?? r.failed ?? "unfinished"),
      bytes: r.cached ? 0 : (r.bytes ?? 0),
    }));

    const out = [];
    for (const visit of ["first", "second"]) {
      if (visit === "second") {
        await page.reload();
        await page.waitForSelector("body[data-state=ready], body[data-state=failed]", { timeout: 60_000 });
      }
      requests = new Map();
      const got = await page.evaluate(firstLoad, { base, threads, model });
      // The last loadingFinished events may arrive just after load() resolves.
      await page.waitForTimeout(300);
      out.push({ visit, threads, ...got, files: files() });
    }
    return out;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

const browser = await chromium.launch(launch);
const result = { chromium: browser.version(), latency: [], visits: null };
try {
  const probe = await browser.newContext();
  result.cores = await (await openPage(probe)).evaluate(() => navigator.hardwareConcurrency);
  await probe.close();
  for (const run of config.latency) {
    log(`${run.model}: onnxruntime-web alone and end to end, ${run.threads} thread(s)`);
    result.latency.push({ model: run.model, ...(await latency(browser, run)) });
  }
} finally {
  await browser.close();
}
log("first and second visit");
result.visits = await visits(config.visits);
console.log(JSON.stringify(result));
