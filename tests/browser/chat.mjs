// Two headless Chromium pages join the ws_chat example over wss and talk.
// usage: node chat.mjs https://localhost:PORT/ screenshot.png
// Prints "OK" when each page has seen both messages, in order. Playwright launches the
// browser with a fresh temporary profile (--user-data-dir) every time.
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const timeout = 20000;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
  timeout,
});
try {
  // The dev certificate is signed by the dev CA, which this browser does not trust.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 720, height: 560 } });
  const alice = await context.newPage();
  const bob = await context.newPage();
  for (const [page, name] of [[alice, "alice"], [bob, "bob"]]) {
    await page.goto(url + "?name=" + name, { timeout });
    await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("connected (wss)"), null, { timeout });
  }
  await alice.fill("#msg", "hello from alice");
  await alice.click("#send");
  await bob.waitForFunction(() => document.querySelectorAll("#log li").length >= 1, null, { timeout });
  await bob.fill("#msg", "hi alice, bob here");
  await bob.press("#msg", "Enter");
  const expected = ["alice: hello from alice", "bob: hi alice, bob here"];
  for (const page of [alice, bob]) {
    await page.waitForFunction(() => document.querySelectorAll("#log li").length >= 2, null, { timeout });
    const lines = await page.$$eval("#log li", (items) => items.map((li) => li.textContent));
    if (JSON.stringify(lines) !== JSON.stringify(expected)) {
      throw new Error("page saw " + JSON.stringify(lines));
    }
  }
  // The page itself came over HTTP/2 (ALPN h2); the WebSocket stays on HTTP/1.1.
  const protocol = await alice.evaluate(() => performance.getEntriesByType("navigation")[0].nextHopProtocol);
  console.log("nextHopProtocol " + protocol);
  if (screenshot) {
    await alice.screenshot({ path: screenshot });
  }
  console.log("OK");
} finally {
  await browser.close();
}
