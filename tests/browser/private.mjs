// Private mode in headless Chromium: the detector loaded from the real server
// (`import("/wasi-detect.js")`, then `load()`), fed the test's photos and bad
// inputs in one loop, with every request the page makes recorded; then the
// same photos with the network cut; then the demo page switched to "in this
// browser". Prints what it saw as one JSON object; tests/private_mode.rs
// makes the assertions.
//
//   node tests/browser/private.mjs BASE_URL CASES_JSON SCREENSHOT
//
// CASES_JSON: {
//   calls: [{ id, file, type, as, options }]   detect(bytes of `file`, options):
//       as "blob": a Blob of type `type` ("" for none); "bytes": a Uint8Array
//       with options.type = `type`
//   offline: [id, ...]                          calls made again offline
//   page: { photo, second }                     files for the demo page
// }
import { demoPage, launchChromium } from "./chromium.mjs";
import { readFileSync } from "node:fs";
import { basename } from "node:path";

const [base, casesFile, screenshot] = process.argv.slice(2);
if (!screenshot) {
  console.error("usage: private.mjs BASE_URL CASES_JSON SCREENSHOT");
  process.exit(2);
}
const cases = JSON.parse(readFileSync(casesFile, "utf8"));

// A stuck browser must fail the test, not hang it.
setTimeout(() => {
  console.error("private.mjs: no result within 170 s");
  process.exit(3);
}, 170_000).unref();

const started = performance.now();
const since = () => Math.round(performance.now() - started);
const log = (what) => console.error(`private.mjs ${String(since()).padStart(6)} ms: ${what}`);

const browser = await launchChromium();
const seen = { timings: {} };
try {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });

  // Every request of a page, by phase, and what the console said.
  const watch = (page) => {
    const w = { phase: "open", requests: [], consoleErrors: [] };
    page.on("request", (r) => w.requests.push({
      phase: w.phase,
      method: r.method(),
      url: r.url(),
      resourceType: r.resourceType(),
      bodyBytes: r.postDataBuffer()?.length ?? null,
    }));
    page.on("console", (m) => { if (m.type() === "error") w.consoleErrors.push(`${w.phase}: ${m.text()}`); });
    page.on("pageerror", (e) => w.consoleErrors.push(`${w.phase}: ${e}`));
    return w;
  };

  // ---- The detector API, in the server's page (cross-origin isolated, so
  // onnxruntime-web has threads), its controls left alone ----
  const page = await context.newPage();
  const api = watch(page);
  await page.goto(base);
  await page.waitForSelector("body[data-state=ready], body[data-state=failed]", { timeout: 60_000 });
  seen.crossOriginIsolated = await page.evaluate(() => globalThis.crossOriginIsolated);

  // The inputs, decoded once into the page (base64 through evaluate: no
  // request carries them).
  const inputs = cases.calls.map((c) => ({ id: c.id, b64: readFileSync(c.file).toString("base64") }));
  await page.evaluate((inputs) => {
    window.__inputs = {};
    for (const { id, b64 } of inputs) {
      const text = atob(b64);
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
      window.__inputs[id] = bytes;
    }
  }, inputs);

  api.phase = "load";
  log("loading the detector");
  seen.load = await page.evaluate(async () => {
    const start = performance.now();
    const mod = await import("/wasi-detect.js");
    window.__mod = mod;
    const supported = mod.supported();
    window.__detector = await mod.load();
    return {
      supported,
      ms: performance.now() - start,
      models: window.__detector.models,
      lastTiming: window.__detector.lastTiming,
      exports: Object.keys(mod).sort(),
    };
  });
  seen.timings.load = Math.round(seen.load.ms);
  log(`loaded in ${seen.timings.load} ms`);

  // Runs `calls` through detector.detect, one after the other.
  const run = (calls) => page.evaluate(async (calls) => {
    const out = {};
    for (const c of calls) {
      const bytes = window.__inputs[c.id];
      let input;
      const options = { ...c.options };
      if (c.as === "blob") input = new Blob([bytes], { type: c.type });
      else { input = bytes; options.type = c.type; }
      const start = performance.now();
      try {
        const answer = await window.__detector.detect(input, options);
        out[c.id] = { ok: answer, ms: performance.now() - start, timing: window.__detector.lastTiming };
      } catch (e) {
        out[c.id] = {
          error: {
            isError: e instanceof Error,
            isDetectError: e instanceof window.__mod.DetectError,
            name: e?.name,
            code: e?.code,
            status: e?.status,
            message: e?.message,
            available: e?.available ?? null,
          },
          ms: performance.now() - start,
        };
      }
    }
    return out;
  }, calls);

  api.phase = "detect";
  let start = performance.now();
  seen.online = await run(cases.calls);
  seen.timings.online = Math.round(performance.now() - start);
  log(`${cases.calls.length} calls in ${seen.timings.online} ms`);
  // Something detect does not take: refused in the same way.
  seen.notBytes = await page.evaluate(() => window.__detector.detect("a photo", { type: "image/png" }).then(
    (answer) => ({ answer }),
    (e) => ({ isError: e instanceof Error, name: e.name, code: e.code, status: e.status, message: e.message }),
  ));

  // The network cut: every request fails, and the browser says it is offline.
  api.phase = "offline";
  await page.route("**/*", (route) => route.abort("internetdisconnected"));
  await context.setOffline(true);
  seen.offlineNavigator = await page.evaluate(() => navigator.onLine);
  start = performance.now();
  seen.offline = await run(cases.calls.filter((c) => cases.offline.includes(c.id)));
  seen.timings.offline = Math.round(performance.now() - start);
  log(`${cases.offline.length} calls offline in ${seen.timings.offline} ms`);
  await context.setOffline(false);
  await page.unroute("**/*");
  api.phase = "done";
  seen.api = { requests: api.requests, consoleErrors: api.consoleErrors };
  await page.close();

  // ---- The demo page: in this browser, on the server, in this browser again ----
  const demo = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const p = await demo.newPage();
  const ui = watch(p);
  const { settled, detections } = demoPage(p);
  const view = () => p.evaluate(() => ({
    where: document.body.dataset.where,
    state: document.body.dataset.state,
    status: document.getElementById("status").textContent,
    statusState: document.getElementById("status").dataset.state,
    timing: document.getElementById("timing").textContent,
    error: document.getElementById("error").hidden ? null : document.getElementById("error").textContent,
    model: document.getElementById("detections").dataset.model ?? null,
    viewBox: document.getElementById("boxes").getAttribute("viewBox"),
    boxes: document.querySelectorAll("#boxes g").length,
  }));
  // Waits for the photo on the page to be done (or refused) `where`.
  const detectedHere = async (where) => {
    const words = where === "browser" ? "in this browser" : "on the server";
    await p.waitForFunction((words) => {
      const state = document.body.dataset.state;
      return state === "error" || (state === "done" && document.getElementById("timing").textContent.includes(words));
    }, words, { timeout: 60_000 });
    return { ...(await view()), detections: await detections() };
  };

  await p.goto(base);
  ui.phase = "server";
  seen.page = { warm: { state: await settled(["ready", "failed"]), ...(await view()) } };
  seen.page.choice = await p.evaluate(() => ({
    fieldset: !!document.querySelector("fieldset#where"),
    server: { value: document.getElementById("where-server")?.value, checked: document.getElementById("where-server")?.checked },
    browser: {
      value: document.getElementById("where-browser")?.value,
      checked: document.getElementById("where-browser")?.checked,
      disabled: document.getElementById("where-browser")?.disabled,
      label: document.getElementById("where-browser")?.labels?.[0]?.textContent ?? "",
    },
    crossOriginIsolated: globalThis.crossOriginIsolated,
  }));

  // In this browser: every state #status goes through (a state may last less
  // than a frame), until it is ready.
  await p.evaluate(() => {
    const status = document.getElementById("status");
    window.__statusStates = [];
    new MutationObserver((records) => { for (const r of records) window.__statusStates.push(r.oldValue); })
      .observe(status, { attributes: true, attributeFilter: ["data-state"], attributeOldValue: true });
  });
  ui.phase = "browser";
  start = performance.now();
  await p.check("#where-browser");
  await p.waitForSelector("#status[data-state=ready], #status[data-state=failed]", { timeout: 60_000 });
  seen.timings.pageLoad = Math.round(performance.now() - start);
  seen.page.loaded = await view();
  seen.page.statusStates = await p.evaluate(() => [...window.__statusStates, document.getElementById("status").dataset.state]);

  // A photo chosen in private mode, through the file picker.
  await p.setInputFiles("#file", cases.page.photo);
  await settled(["done", "error"]);
  seen.page.browser = await detectedHere("browser");
  await p.screenshot({ path: screenshot, fullPage: true });
  log(`page: private mode loaded in ${seen.timings.pageLoad} ms, a photo detected in ${Math.round(performance.now() - start)} ms`);

  // Another, dropped: a JPEG stored sideways with an EXIF orientation.
  const bytes = readFileSync(cases.page.second);
  const transfer = await p.evaluateHandle(([data, name]) => {
    const t = new DataTransfer();
    t.items.add(new File([new Uint8Array(data)], name, { type: "image/jpeg" }));
    return t;
  }, [[...bytes], basename(cases.page.second)]);
  await p.dispatchEvent("#drop", "drop", { dataTransfer: transfer });
  await settled(["done", "error"]);
  seen.page.second = await detectedHere("browser");

  // To the server: the photo on the page is posted and detected there.
  ui.phase = "server again";
  await p.check("#where-server");
  seen.page.serverAgain = await detectedHere("server");

  // And back: the detector loaded already, the photo detected here again.
  ui.phase = "browser again";
  await p.check("#where-browser");
  seen.page.browserAgain = await detectedHere("browser");
  ui.phase = "done";
  seen.page.requests = ui.requests;
  seen.page.consoleErrors = ui.consoleErrors;
  await demo.close();

  // ---- A browser without JSPI: the choice is disabled, with a note ----
  const old = await browser.newContext();
  const q = await old.newPage();
  const oldWatch = watch(q);
  await q.addInitScript(() => { delete WebAssembly.Suspending; delete WebAssembly.promising; });
  await q.goto(base);
  await q.waitForSelector("body[data-state=ready], body[data-state=failed]", { timeout: 60_000 });
  seen.noJspi = await q.evaluate(() => {
    const note = [...document.querySelectorAll("#where :not(legend):not(label):not(input)")]
      .filter((e) => !e.hidden && e.textContent.trim())
      .map((e) => e.textContent.trim());
    return {
      state: document.body.dataset.state,
      where: document.body.dataset.where,
      disabled: document.getElementById("where-browser")?.disabled,
      notes: note,
    };
  });
  seen.noJspi.consoleErrors = oldWatch.consoleErrors;
  await old.close();
  seen.timings.total = since();
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
