// Opens the demo page in headless Chromium and prints, as JSON, whether it
// offers private mode: the "in this browser" switch and the note beside it.
//
//   node tests/browser/where.mjs BASE_URL
import { demoPage, launchChromium } from "./chromium.mjs";

const [base] = process.argv.slice(2);
if (!base) {
  console.error("usage: where.mjs BASE_URL");
  process.exit(2);
}
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  // The page asks for private mode's files as it loads.
  const asked = page.waitForResponse((r) => r.url().endsWith("/wasi-detect.js"), { timeout: 30_000 });
  await page.goto(base);
  await demoPage(page).settled(["ready", "failed"]);
  await asked;
  await page.waitForTimeout(200);
  const where = await page.evaluate(() => ({
    disabled: document.getElementById("where-browser").disabled,
    note: document.getElementById("where-note").hidden ? "" : document.getElementById("where-note").textContent,
  }));
  console.log(JSON.stringify(where));
} finally {
  await browser.close();
}
