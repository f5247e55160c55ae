// --web-auth user:password: Chromium with the right credentials gets the
// page, its API calls and its WebSocket; a wrong password or none gets 401.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { launchChromium, startCicada, tmpDir, waitFor } from "./helpers.mjs";

const SCENARIO = `
Idle = cicada.user { wait_time = cicada.constant(1) }
Idle:task(1, function(self) self.client:get("/") end)
`;
const USER = "alice", PASS = "s3cret:with-colon";

describe("basic auth in Chromium", { timeout: 60000 }, () => {
  let dir, cicada, browser;

  before(async () => {
    dir = tmpDir();
    fs.writeFileSync(path.join(dir, "scenario.lua"), SCENARIO);
    // No load is started here: the host is never contacted.
    cicada = await startCicada(["-f", "scenario.lua", "-H", "http://127.0.0.1:9",
      "--web-auth", `${USER}:${PASS}`], { cwd: dir });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await cicada?.stop();
    if (dir && !process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the right credentials load the page, its data and its WebSocket", async () => {
    const ctx = await browser.newContext({ httpCredentials: { username: USER, password: PASS } });
    try {
      const page = await ctx.newPage();
      const bad = [];
      page.on("response", (r) => { if (r.status() >= 400) bad.push(`${r.status()} ${r.url()}`); });
      const resp = await page.goto(cicada.url + "/");
      assert.equal(resp.status(), 200);
      await waitFor(async () => (await page.textContent("#state")) === "ready", "state ready from the API");
      await waitFor(() => page.evaluate(() => document.getElementById("conn").classList.contains("live")),
        "the WebSocket to connect with the credentials (#conn.live)");
      assert.equal(await page.evaluate(() => typeof window.Chart), "function", "chart.min.js loaded");
      assert.deepEqual(bad, [], "no failed requests");
    } finally {
      await ctx.close();
    }
  });

  it("a wrong password gets 401", async () => {
    const ctx = await browser.newContext({ httpCredentials: { username: USER, password: "wrong" } });
    try {
      const page = await ctx.newPage();
      const resp = await page.goto(cicada.url + "/");
      assert.equal(resp.status(), 401);
      assert.match(resp.headers()["www-authenticate"] || "", /^Basic /);
      assert.equal(await page.locator("#start-form").count(), 0, "no UI behind a wrong password");
    } finally {
      await ctx.close();
    }
  });

  it("no credentials get 401 on every route", async () => {
    for (const route of ["/", "/stats/requests", "/app.js", "/stats/report", "/ws"]) {
      const r = await fetch(cicada.url + route);
      assert.equal(r.status, 401, `GET ${route} without credentials`);
    }
    const ok = await fetch(cicada.url + "/stats/requests", {
      headers: { Authorization: "Basic " + Buffer.from(`${USER}:${PASS}`).toString("base64") },
    });
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).state, "ready");
  });
});
