// --web-base-path /load/test: Chromium loads the UI under the prefix with
// every asset, API call and the WebSocket inside it, starts a swarm against
// a real nginx from the page, and sees rows; outside the prefix is a 404.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { launchChromium, startCicada, startNginx, tmpDir, waitFor } from "./helpers.mjs";

const SCENARIO = `
Web = cicada.user { wait_time = cicada.constant(0.1) }
Web:task(1, function(self) self.client:get("/a") end)
`;
const BASE = "/load/test";

describe("--web-base-path in Chromium", { timeout: 60000 }, () => {
  let dir, nginx, cicada, browser;

  before(async () => {
    dir = tmpDir();
    fs.writeFileSync(path.join(dir, "scenario.lua"), SCENARIO);
    nginx = await startNginx(path.join(dir, "nginx"));
    cicada = await startCicada(["-f", "scenario.lua", "-H", nginx.url, "--web-base-path", BASE + "/"],
      { cwd: dir });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await cicada?.stop();
    await nginx?.stop();
    if (dir && !process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("serves the page, its assets, its API and its WebSocket under the prefix only", async () => {
    const page = await browser.newPage();
    const urls = [], bad = [];
    page.on("request", (r) => urls.push(r.url()));
    page.on("response", (r) => { if (r.status() >= 400) bad.push(`${r.status()} ${r.url()}`); });
    let ws = null;
    page.on("websocket", (w) => { ws = w.url(); });
    // the prefix alone redirects to prefix/
    const resp = await page.goto(cicada.url + BASE);
    assert.equal(resp.status(), 200);
    assert.equal(new URL(page.url()).pathname, BASE + "/");
    await waitFor(async () => (await page.textContent("#state")) === "ready", "state ready from the API");
    await waitFor(() => page.evaluate(() => document.getElementById("conn").classList.contains("live")),
      "the WebSocket to connect");
    assert.equal(await page.evaluate(() => typeof window.Chart), "function", "chart.min.js loaded");
    assert.equal(new URL(ws).pathname, BASE + "/ws");
    const inside = urls.filter((u) => u !== cicada.url + BASE); // the redirected first request
    for (const u of inside) assert.ok(new URL(u).pathname.startsWith(BASE + "/"), `${u} is under ${BASE}/`);
    assert.ok(urls.some((u) => u.endsWith(BASE + "/app.js")), "app.js was loaded under the prefix");

    await page.fill("#user_count", "2");
    await page.fill("#spawn_rate", "10");
    await page.click("#start-button");
    await waitFor(async () => (await page.locator('tr:has-text("/a")').count()) > 0, "a row for /a");
    await page.click("#stop-button");
    assert.deepEqual(bad, [], "no failed requests");
    await page.close();
  });

  it("answers 404 outside the prefix and serves the API inside it", async () => {
    for (const route of ["/", "/stats/requests", "/app.js", "/ws", "/load", "/load/testx/"]) {
      const r = await fetch(cicada.url + route, { redirect: "manual" });
      assert.equal(r.status, 404, `GET ${route}`);
    }
    const r = await fetch(cicada.url + BASE + "/stats/requests");
    assert.equal(r.status, 200);
    assert.ok(Array.isArray((await r.json()).stats));
    const m = await fetch(cicada.url + BASE + "/metrics");
    assert.equal(m.status, 200);
  });
});
