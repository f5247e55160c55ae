// Cross-site requests (issue 10, item 4): the UI's own page starts, resets
// and stops a run (POST, same origin); a page of another origin that the
// user happens to visit cannot: its auto-submitted form POST /swarm, its
// fetch POST /stop and its <img src=/stats/reset> all leave the run alone.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort, launchChromium, sleep, startCicada, tmpDir, waitFor } from "./helpers.mjs";

const SCENARIO = `
Idle = cicada.user { wait_time = cicada.constant(1) }
Idle:task(1, function(self) self.client:get("/") end)
`;

describe("cross-site requests in Chromium", { timeout: 60000 }, () => {
  let dir, cicada, browser, evil, evilUrl;
  const seen = []; // what the evil page's requests got back: [route, status]

  before(async () => {
    dir = tmpDir();
    fs.writeFileSync(path.join(dir, "scenario.lua"), SCENARIO);
    // The host is never contacted by a started run: it refuses at once.
    cicada = await startCicada(["-f", "scenario.lua", "-H", "http://127.0.0.1:9"], { cwd: dir });
    browser = await launchChromium();
    const port = await freePort();
    evilUrl = `http://127.0.0.1:${port}`; // another origin: another port
    evil = http.createServer((req, res) => {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end(`<!doctype html><body>
        <img src="${cicada.url}/stats/reset">
        <iframe name="sink"></iframe>
        <form id="f" method="POST" action="${cicada.url}/swarm" target="sink">
          <input name="user_count" value="7"><input name="spawn_rate" value="7">
          <input name="host" value="http://127.0.0.1:9">
        </form>
        <script>
          fetch("${cicada.url}/stop", { method: "POST", mode: "no-cors",
            headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "a=1" });
          document.getElementById("f").submit();
        </script></body>`);
    });
    await new Promise((r) => evil.listen(port, "127.0.0.1", r));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await cicada?.stop();
    await new Promise((r) => (evil ? evil.close(r) : r()));
    if (dir && !process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true });
  });

  const stats = async () => (await fetch(cicada.url + "/stats/requests")).json();

  it("another origin's page cannot start, reset or stop a run", async () => {
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      page.on("response", (r) => {
        if (r.url().startsWith(cicada.url)) seen.push([new URL(r.url()).pathname, r.status()]);
      });
      await page.goto(evilUrl + "/");
      await waitFor(() => seen.some(([p]) => p === "/swarm"), "the evil form's POST /swarm to be answered");
      await sleep(1500); // a command that got through would run within a tick
      const j = await stats();
      assert.equal(j.state, "ready", "no run was started");
      assert.equal(j.user_count, 0);
      const swarm = seen.find(([p]) => p === "/swarm");
      assert.equal(swarm[1], 403, `POST /swarm from ${evilUrl}: ${seen}`);
      const img = seen.find(([p]) => p === "/stats/reset");
      if (img) assert.equal(img[1], 405, "a GET from a page changes nothing");
    } finally {
      await ctx.close();
    }
  });

  it("the UI's own page starts, resets and stops a run", async () => {
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      const bad = [];
      page.on("response", (r) => {
        if (r.status() >= 400 && !r.url().includes("requests_full_history")) bad.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(cicada.url + "/");
      await page.locator("#start-overlay").waitFor({ state: "visible" });
      await page.fill("#user_count", "2");
      await page.fill("#spawn_rate", "10");
      await page.click("#start-button");
      await waitFor(async () => (await stats()).user_count === 2, "the page's swarm to reach 2 users");
      await waitFor(async () => (await stats()).stats.some((s) => s.num_requests > 0), "requests to be counted");
      const reset = page.waitForResponse((r) => r.url().endsWith("/stats/reset"));
      await page.click("#reset-button");
      assert.equal((await reset).status(), 200, "the page's reset");
      const stop = page.waitForResponse((r) => r.url().endsWith("/stop"));
      await page.click("#stop-button");
      assert.equal((await stop).status(), 200, "the page's stop");
      await waitFor(async () => (await stats()).state === "stopped", "the run to stop");
      assert.deepEqual(bad, [], "no request of the page's own was refused");
    } finally {
      await ctx.close();
    }
  });
});
