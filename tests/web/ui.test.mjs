// The web UI in a real Chromium against a real nginx: start a swarm from the
// form, watch rows and charts grow, change the user count, stop, download
// the stats CSV and the HTML report, and open the report with no network.
//
// The steps share one nginx, one cicada and one browser page and run in
// order (node:test runs the tests of a describe one after the other); a
// failed step makes the following ones fail too, each with its own message.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import {
  ARTIFACTS, launchChromium, parseCsv, sleep, startCicada, startNginx, tmpDir, waitFor,
} from "./helpers.mjs";

const SCENARIO = `
Browse = cicada.user { wait_time = cicada.constant(0.05) }
Browse:task(3, function(self) self.client:get("/a") end)
Browse:task(2, function(self) self.client:get("/b") end)
Browse:task(1, function(self) self.client:get("/c", { name = "cee" }) end)
Browse:task(1, function(self) self.client:get("/fast?x=1", { name = "/fast" }) end)
Browse:task(1, function(self) self.client:get("/missing") end)
`;
const NAMES = ["/a", "/b", "cee", "/fast", "/missing"];

/* The request count shown in the statistics table for `name`, or null. */
function rowCount(page, name) {
  return page.evaluate((n) => {
    const tr = [...document.querySelectorAll("#stats-table tbody tr")].find((r) => r.dataset.name === n);
    return tr ? Number(tr.children[2].textContent) : null;
  }, name);
}

/* Per chart: Chart.js points with a y value, and pixels of the dataset's
 * own colour inside the plot area (the legend swatch is outside it), so
 * "drew" means lines on the canvas, not only data in memory. */
function chartState(page, ids) {
  return page.evaluate((ids) => ids.map((id) => {
    const canvas = document.getElementById(id);
    const chart = canvas && window.Chart && window.Chart.getChart(canvas);
    if (!chart) return { id, chart: false };
    const ds = chart.data.datasets.find((d) => !d.hidden) || chart.data.datasets[0];
    const points = ds.data.filter((p) => p && p.y != null).length;
    const hex = ds.borderColor;
    const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const r = chart.currentDevicePixelRatio || 1, a = chart.chartArea;
    let inked = 0;
    if (a && a.right > a.left) {
      const x = Math.floor(a.left * r), y = Math.floor(a.top * r);
      const w = Math.floor((a.right - a.left) * r), h = Math.floor((a.bottom - a.top) * r);
      const px = canvas.getContext("2d").getImageData(x, y, w, h).data;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3] > 100 && Math.abs(px[i] - want[0]) < 40 && Math.abs(px[i + 1] - want[1]) < 40 &&
            Math.abs(px[i + 2] - want[2]) < 40) inked++;
      }
    }
    const last = ds.data.length ? ds.data[ds.data.length - 1] : null;
    return { id, chart: true, points, inked, lastY: last ? last.y : null };
  }), ids);
}

describe("web UI in Chromium", { timeout: 150000 }, () => {
  let dir, nginx, cicada, browser, context, page, csvPath, reportPath;
  const pageErrors = [];

  before(async () => {
    dir = tmpDir();
    fs.writeFileSync(path.join(dir, "scenario.lua"), SCENARIO);
    nginx = await startNginx(path.join(dir, "nginx"));
    cicada = await startCicada(["-f", "scenario.lua", "-H", nginx.url], { cwd: dir });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(15000);
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    // Every 4xx/5xx the page gets, except the full-history CSV probe of the
    // Download tab, which is 404 by design without --csv-full-history.
    page.on("response", (r) => {
      if (r.status() >= 400 && !r.url().endsWith("/stats/requests_full_history/csv")) {
        pageErrors.push(`${r.status()} ${r.url()}`);
      }
    });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await cicada?.stop();
    await nginx?.stop();
    if (dir && !process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function api(route) {
    const r = await fetch(cicada.url + route);
    assert.equal(r.status, 200, `GET ${route}`);
    return r;
  }

  it("opens the page with the start form and the target host", async () => {
    const resp = await page.goto(cicada.url + "/");
    assert.equal(resp.status(), 200);
    await page.locator("#start-overlay").waitFor({ state: "visible" });
    await waitFor(async () => (await page.inputValue("#host")) === nginx.url,
      `the host field to be prefilled with ${nginx.url}`);
    assert.equal(await page.textContent("#state"), "ready");
    assert.equal(await page.textContent("#host-label"), nginx.url);
    // live updates come over the WebSocket
    await waitFor(() => page.evaluate(() => document.getElementById("conn").classList.contains("live")),
      "the WebSocket to connect (#conn.live)");
  });

  it("starts a swarm from the form; request rows appear with growing counts", async () => {
    await page.fill("#user_count", "2");
    await page.fill("#spawn_rate", "10");
    await page.click("#start-button");
    await page.locator("#start-overlay").waitFor({ state: "hidden" });
    await waitFor(async () => ["spawning", "running"].includes(await page.textContent("#state")),
      "state spawning/running in the header");
    for (const name of NAMES) {
      await waitFor(async () => (await rowCount(page, name)) > 0, `a statistics row for ${name}`);
    }
    const agg = await waitFor(async () => rowCount(page, "Aggregated"), "the Aggregated row");
    const first = await rowCount(page, "/a");
    await waitFor(async () => (await rowCount(page, "/a")) > first, `the /a count to grow past ${first}`);
    assert.ok((await rowCount(page, "Aggregated")) > agg, "the Aggregated count grows");
    // the failing path is on the Failures tab's badge
    await waitFor(() => page.evaluate(() => !document.getElementById("failures-count").hidden),
      "the failures badge");
  });

  it("draws points on the three charts", async () => {
    await page.click('.tabs button[data-tab="charts"]');
    await page.locator("#chart-rps").waitFor({ state: "visible" });
    const ids = ["chart-rps", "chart-response", "chart-users"];
    await waitFor(async () => (await page.evaluate(() => window.cicadaUI.points())) >= 3,
      "window.cicadaUI.points() >= 3");
    const states = await waitFor(async () => {
      const s = await chartState(page, ids);
      return s.every((c) => c.chart && c.points >= 3 && c.inked > 20) && s;
    }, "three charts with >= 3 points each and lines drawn in their plot areas");
    const users = states.find((c) => c.id === "chart-users");
    assert.equal(users.lastY, 2, "the users chart's last point is the 2 users started");
  });

  it("changes the user count while running (edit form) and the header follows", async () => {
    await page.click("#edit-button");
    await page.locator("#edit-overlay").waitFor({ state: "visible" });
    assert.equal(await page.inputValue("#edit_user_count"), "2");
    await page.fill("#edit_user_count", "4");
    await page.fill("#edit_spawn_rate", "20");
    await page.click("#edit-submit");
    await page.locator("#edit-overlay").waitFor({ state: "hidden" });
    await waitFor(async () => (await page.textContent("#users")) === "4", "the header's Users to read 4");
    const j = await (await api("/stats/requests")).json();
    assert.equal(j.user_count, 4, "/stats/requests user_count after the edit");
    await waitFor(async () => (await chartState(page, ["chart-users"]))[0].lastY === 4,
      "the users chart to reach 4");
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "ui-running-charts.png"), fullPage: true });
    await page.click('.tabs button[data-tab="stats"]');
    await sleep(1100); // one more push, so the table shows the 4 users' numbers
    await page.screenshot({ path: path.join(ARTIFACTS, "ui-running.png"), fullPage: true });
    assert.ok(fs.statSync(path.join(ARTIFACTS, "ui-running.png")).size > 10000, "a real screenshot");
  });

  it("stops from the header", async () => {
    await page.click("#stop-button");
    await waitFor(async () => (await page.textContent("#state")) === "stopped", "state stopped");
    await page.locator("#new-test-button").waitFor({ state: "visible" });
    assert.equal(await page.locator("#stop-button").isVisible(), false);
    // counts settle: nothing is in flight any more
    let prev = -1;
    await waitFor(async () => {
      const j = await (await api("/stats/requests")).json();
      const n = j.stats[j.stats.length - 1].num_requests;
      const same = n === prev;
      prev = n;
      return same;
    }, "the Aggregated count to stop changing", 15000, 1200);
  });

  it("downloads the stats CSV through the page, and it agrees with /stats/requests", async () => {
    await page.click('.tabs button[data-tab="download"]');
    // not started with --csv-full-history: the page hides that link
    await page.locator("#history-csv-item").waitFor({ state: "hidden" });
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#download-requests-csv")]);
    assert.match(dl.suggestedFilename(), /^requests_\d+(\.\d+)?\.csv$/);
    csvPath = path.join(dir, "requests.csv");
    await dl.saveAs(csvPath);
    const rows = parseCsv(fs.readFileSync(csvPath, "utf8"));
    const j = await (await api("/stats/requests")).json();

    const csvBy = new Map(rows.map((r) => [`${r.Type} ${r.Name}`, r]));
    const jsonBy = new Map(j.stats.map((s) => [`${s.method || ""} ${s.name}`, s]));
    assert.deepEqual([...csvBy.keys()].sort(), [...jsonBy.keys()].sort(), "the same (method, name) rows");
    assert.equal(rows[rows.length - 1].Name, "Aggregated", "Aggregated is the CSV's last row");
    for (const [key, s] of jsonBy) {
      const r = csvBy.get(key);
      assert.equal(Number(r["Request Count"]), s.num_requests, `request count of ${key}`);
      assert.equal(Number(r["Failure Count"]), s.num_failures, `failure count of ${key}`);
    }
    for (const name of NAMES) assert.ok(jsonBy.get(`GET ${name}`).num_requests > 0, `${name} was requested`);
    assert.equal(jsonBy.get("GET /missing").num_failures, jsonBy.get("GET /missing").num_requests);
    assert.equal(jsonBy.get("GET /a").num_failures, 0);
  });

  it("downloads the HTML report through the page", async () => {
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#download-report")]);
    assert.match(dl.suggestedFilename(), /^report_\d+(\.\d+)?\.html$/);
    reportPath = path.join(dir, "report.html");
    await dl.saveAs(reportPath);
    assert.ok(fs.statSync(reportPath).size > 1000);
    assert.deepEqual(pageErrors, [], "no script errors and no failed requests in the page");
  });

  it("opens the downloaded report with no network and its charts draw", async () => {
    const offline = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
    const blocked = [];
    await offline.route("**/*", (route) => {
      const u = route.request().url();
      if (u.startsWith("file:")) return route.continue();
      blocked.push(u);
      return route.abort();
    });
    const rp = await offline.newPage();
    const errors = [];
    rp.on("pageerror", (e) => errors.push(String(e)));
    rp.on("requestfailed", (r) => { if (!r.url().startsWith("file:")) blocked.push(r.url()); });
    try {
      await rp.goto(pathToFileURL(reportPath).href, { waitUntil: "load" });
      const states = await waitFor(async () => {
        const s = await chartState(rp, ["chart-rps", "chart-response", "chart-users"]);
        return s.every((c) => c.chart && c.points >= 2 && c.inked > 20) && s;
      }, "the report's three charts with points and lines drawn", 10000);
      assert.equal(states.length, 3);
      const names = await rp.$$eval("#request-stats tbody tr td:nth-child(2)", (tds) => tds.map((t) => t.textContent));
      for (const name of NAMES) assert.ok(names.includes(name), `report row ${name} in ${names}`);
      assert.ok(names.includes("Aggregated"));
      assert.equal(await rp.textContent("#target-host"), nginx.url);
      assert.deepEqual(errors, [], "no script errors in the report");
      assert.deepEqual(blocked, [], "the report asked for nothing over the network");
      await rp.screenshot({ path: path.join(ARTIFACTS, "report-offline.png"), fullPage: true });
    } finally {
      await offline.close();
    }
  });
});
