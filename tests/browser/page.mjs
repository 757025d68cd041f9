// Drives the demo page in headless Chromium, as a person would, and prints
// what it saw as one JSON object; tests/page.rs makes the assertions.
//
//   node tests/browser/page.mjs BASE_URL PHOTO ROTATED_PHOTO SCREENSHOT
//
// BASE_URL: the running server; PHOTO: uploaded through the file picker;
// ROTATED_PHOTO: a JPEG with an EXIF orientation, dropped on the drop zone;
// SCREENSHOT: where to save a PNG of the page showing PHOTO's detections.
import { demoPage, launchChromium } from "./chromium.mjs";
import { readFileSync } from "node:fs";
import { basename } from "node:path";

const [base, photo, rotated, screenshot] = process.argv.slice(2);
if (!screenshot) {
  console.error("usage: page.mjs BASE_URL PHOTO ROTATED_PHOTO SCREENSHOT");
  process.exit(2);
}

const browser = await launchChromium();
const seen = {};
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  const consoleErrors = [];
  // The browser logs every 4xx answer; those the test provokes are expected.
  const provoked = /status of (413|415) /;
  page.on("console", (m) => { if (m.type() === "error" && !provoked.test(m.text())) consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  const { settled, detections } = demoPage(page);
  const boxesDrawn = () => page.$$eval("#boxes g", (g) => g.length);
  const viewBox = () => page.$eval("#boxes", (svg) => svg.getAttribute("viewBox"));

  await page.goto(base);
  seen.warm = { state: await settled(["ready", "failed"]), status: await page.textContent("#status") };
  seen.models = {
    shown: await page.isVisible("#model"),
    options: await page.$$eval("#model option", (o) => o.map((x) => x.value)),
    selected: await page.$eval("#model", (s) => s.value),
    threshold: await page.$eval("#threshold", (t) => t.value),
  };
  seen.examples = await page.$$eval("#examples button", (b) => b.map((x) => x.getAttribute("aria-label")));

  // The file picker.
  await page.setInputFiles("#file", photo);
  seen.photo = {
    state: await settled(["done", "error"]),
    detections: await detections(),
    boxes: await boxesDrawn(),
    viewBox: await viewBox(),
    timing: await page.textContent("#timing"),
  };
  await page.screenshot({ path: screenshot, fullPage: true });

  // The slider filters without a new upload.
  let uploads = 0;
  page.on("request", (r) => { if (r.url().includes("/predict")) uploads += 1; });
  await page.$eval("#threshold", (el) => { el.value = "0.95"; el.dispatchEvent(new Event("input")); });
  seen.highThreshold = { detections: await detections(), uploads };
  await page.$eval("#threshold", (el) => { el.value = "0.35"; el.dispatchEvent(new Event("input")); });

  // Drag and drop of a phone photo stored sideways with an EXIF orientation.
  const bytes = readFileSync(rotated);
  const transfer = await page.evaluateHandle(([data, name]) => {
    const t = new DataTransfer();
    t.items.add(new File([new Uint8Array(data)], name, { type: "image/jpeg" }));
    return t;
  }, [[...bytes], basename(rotated)]);
  await page.dispatchEvent("#drop", "drop", { dataTransfer: transfer });
  seen.rotated = { state: await settled(["done", "error"]), detections: await detections(), viewBox: await viewBox() };

  // An example photo.
  if (seen.examples.length > 0) {
    await page.click("#examples button");
    seen.example = { state: await settled(["done", "error"]), boxes: await boxesDrawn() };
  }

  // Another model: warmed, then the photo on the page detected again with
  // it, the slider at that model's threshold.
  if (seen.models.options.includes("centernet")) {
    await page.selectOption("#model", "centernet");
    await page.waitForSelector('#detections[data-model="centernet"]', { timeout: 60_000 });
    seen.otherModel = {
      state: await settled(["done", "error"]),
      status: await page.textContent("#status"),
      threshold: await page.$eval("#threshold", (t) => t.value),
      detections: await detections(),
    };
  }

  // Too large: the server's refusal, shown in words.
  await page.setInputFiles("#file", { name: "huge.jpg", mimeType: "image/jpeg", buffer: Buffer.alloc(6 * 1024 * 1024, 0xff) });
  seen.oversize = { state: await settled(["error", "done"]), error: await page.textContent("#error") };
  // The wrong type.
  await page.setInputFiles("#file", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") });
  seen.wrongType = { state: await settled(["error", "done"]), error: await page.textContent("#error") };

  seen.consoleErrors = consoleErrors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
