// "Target resources" (docs/monitoring.md) in a real Chromium: two real
// node_exporters (Debian's prometheus-node-exporter on free ports of
// 127.0.0.1, stopped by PID) monitored with --monitor; the chart group
// draws points for both targets on the request charts' time axis, the
// header shows each target's CPU and memory, the Edit dialog removes a
// target, a master's workers (fed as pushed messages) get their lines, and
// the HTML report opened with no network draws the group.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import {
  ARTIFACTS, freePort, launchChromium, startCicada, startNginx, stopProcess, track, tmpDir, waitFor, waitPort,
} from "./helpers.mjs";

const EXPORTER = "/usr/bin/prometheus-node-exporter";
const SCENARIO = `
U = cicada.user { wait_time = cicada.constant(0.1) }
U:task(function(self) self.client:get("/fast") end)
`;

async function startExporter() {
  const port = await freePort();
  // tracked: stopProcess ends it in after(), the helpers' exit hook otherwise
  const child = track(spawn(EXPORTER, [`--web.listen-address=127.0.0.1:${port}`], { stdio: "ignore" }),
    "node_exporter");
  await waitPort(port, null);
  return { child, url: `http://127.0.0.1:${port}/metrics` };
}

/* Per canvas: its datasets' labels and how many points with a value each has. */
function monitorCharts(page, ids) {
  return page.evaluate((ids) => ids.map((id) => {
    const c = window.Chart && window.Chart.getChart(document.getElementById(id));
    if (!c) return { id, chart: false, sets: {} };
    const sets = {};
    for (const d of c.data.datasets) sets[d.label] = d.data.filter((p) => p && p.y != null).length;
    return { id, chart: true, sets, width: c.chartArea ? c.chartArea.right - c.chartArea.left : 0 };
  }), ids);
}

describe("Target resources", { timeout: 120000 }, () => {
  let dir, nginx, cicada, browser, page, ex1, ex2, reportPath;
  const errors = [];

  before(async () => {
    dir = tmpDir();
    fs.writeFileSync(path.join(dir, "scenario.lua"), SCENARIO);
    nginx = await startNginx(path.join(dir, "nginx"));
    ex1 = await startExporter();
    ex2 = await startExporter();
    cicada = await startCicada(["-f", "scenario.lua", "-H", nginx.url, "--autostart", "-u", "2", "-r", "2",
      "--monitor", `alpha=${ex1.url}`, "--monitor", `beta=${ex2.url}`], { cwd: dir });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    page = await context.newPage();
    page.setDefaultTimeout(15000);
    page.on("pageerror", (e) => errors.push(String(e)));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await cicada?.stop();
    await nginx?.stop();
    for (const e of [ex1, ex2]) if (e) await stopProcess(e.child);
    if (dir && !process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("draws points for both targets in the chart group", async () => {
    await page.goto(cicada.url + "/#charts");
    await page.locator("#monitor-group").waitFor({ state: "visible" });
    const charts = await waitFor(async () => {
      const s = await monitorCharts(page, ["chart-mon-cpu", "chart-mon-mem", "chart-mon-io"]);
      const ok = s.every((c) => c.chart && c.width > 100) &&
        s[0].sets.alpha >= 2 && s[0].sets.beta >= 2 && s[1].sets.alpha >= 2 && s[1].sets.beta >= 2 &&
        s[2].sets["alpha net rx"] >= 2;
      return ok && s;
    }, "CPU, memory and I/O points for alpha and beta", 20000);
    assert.equal(charts.length, 3);
    // the same x-axis as the request charts
    const axes = await page.evaluate(() => ["chart-rps", "chart-mon-cpu"].map((id) => {
      const c = window.Chart.getChart(document.getElementById(id));
      return [c.scales.x.min, c.scales.x.max];
    }));
    assert.deepEqual(axes[0], axes[1]);
    const summary = await page.textContent("#monitor-summary");
    assert.match(summary, /alpha CPU [\d.]+ % · mem [\d.]+ %/);
    assert.match(summary, /beta CPU/);
    await page.screenshot({ path: path.join(ARTIFACTS, "monitor.png"), fullPage: true });
  });

  it("removes a target from the Edit dialog", async () => {
    await page.click("#edit-button");
    await page.locator("#edit-overlay").waitFor({ state: "visible" });
    const text = await page.inputValue("#edit_monitor");
    assert.ok(text.includes(`alpha=${ex1.url}`) && text.includes(`beta=${ex2.url}`), text);
    await page.fill("#edit_monitor", `alpha=${ex1.url}`);
    await page.click("#edit-submit");
    await page.locator("#edit-overlay").waitFor({ state: "hidden" });
    const doc = await (await fetch(cicada.url + "/stats/monitor")).json();
    const active = Object.fromEntries(doc.targets.map((t) => [t.name, t.active]));
    assert.deepEqual(active, { alpha: true, beta: false });
    await waitFor(async () => !(await page.textContent("#monitor-summary")).includes("beta"),
      "beta to leave the header summary");
  });

  it("draws a master's workers: CPU beside the targets, memory in its own chart", async () => {
    assert.ok(await page.locator("#mon-workers-card").isHidden(), "no worker chart without workers");
    await page.evaluate(() => {
      const t = Math.floor(Date.now() / 1000);
      for (const dt of [-2, -1]) {
        window.cicadaUI.onStats({ state: "running", stats: [], time: t + dt,
          monitor: { targets: [], workers: [{ id: "w1", points: [[t + dt, 42, 123456789]] }] } });
      }
    });
    await page.locator("#mon-workers-card").waitFor({ state: "visible" });
    const s = await monitorCharts(page, ["chart-mon-cpu", "chart-mon-wmem"]);
    assert.equal(s[0].sets["worker w1"], 2);
    assert.equal(s[1].sets["worker w1"], 2);
  });

  it("shows the group in the HTML report opened offline", async () => {
    const r = await fetch(cicada.url + "/stats/report");
    assert.equal(r.status, 200);
    reportPath = path.join(dir, "report.html");
    fs.writeFileSync(reportPath, await r.text());
    const offline = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
    const blocked = [];
    await offline.route("**/*", (route) => {
      if (route.request().url().startsWith("file:")) return route.continue();
      blocked.push(route.request().url());
      return route.abort();
    });
    const rp = await offline.newPage();
    const errs = [];
    rp.on("pageerror", (e) => errs.push(String(e)));
    try {
      await rp.goto(pathToFileURL(reportPath).href, { waitUntil: "load" });
      const s = await waitFor(async () => {
        const c = await monitorCharts(rp, ["chart-mon-cpu", "chart-mon-mem"]);
        return c.every((x) => x.chart && x.sets.alpha >= 2 && x.sets.beta >= 2) && c;
      }, "the report's Target resources charts with both targets", 10000);
      assert.equal(s.length, 2);
      assert.ok((await rp.textContent("body")).includes("Target resources"));
      assert.deepEqual(errs, []);
      assert.deepEqual(blocked, []);
      await rp.screenshot({ path: path.join(ARTIFACTS, "report-monitor.png"), fullPage: true });
    } finally {
      await offline.close();
    }
    assert.deepEqual(errors, [], "no script errors in the page");
  });
});
