// Headless Chromium as the browser tests launch it: Debian's /usr/bin/chromium
// (or $CHROMIUM), driven by playwright-core.
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    // This machine has no network beyond loopback: keep Chromium from trying.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// What the demo page shows, read as the tests read it.
export function demoPage(page) {
  return {
    // Waits until the page has settled in one of `states`, and returns it.
    async settled(states) {
      const selector = states.map((s) => `body[data-state=${s}]`).join(", ");
      await page.waitForSelector(selector, { timeout: 60_000 });
      return page.evaluate(() => document.body.dataset.state);
    },
    // The detections listed under the photo, in order.
    detections: () => page.$$eval("#detections li[data-class]", (items) => items.map((li) => ({
      class: li.dataset.class,
      score: Number(li.dataset.score),
      bbox: [li.dataset.x1, li.dataset.y1, li.dataset.x2, li.dataset.y2].map(Number),
    }))),
  };
}
