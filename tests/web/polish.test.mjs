// The web UI's polish (issue 10, items 7-10) in a real Chromium against a
// real nginx: the start and edit forms pre-filled from -u/-r/-H and from
// the running test, the class picker (--class-picker), natural order and
// function names in "Current ratio", "<1%" failures, one precision in the
// statistics table, chart x-axes that line up, no sideways scrolling at
// 800 px, the dark theme and the Logs tab.
//
// Each describe starts its own nginx and cicada; the steps of a describe
// run in order on one page.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ARTIFACTS, launchChromium, sleep, startCicada, startNginx, tmpDir, waitFor } from "./helpers.mjs";

// Two anonymous tasks on lines 2 and 10 (named file:line), one method and
// one local function (named by Lua).
const SCENARIO = `Shop = cicada.user { wait_time = cicada.constant(0.2) }
Shop:task(1, function(self) self.client:get("/a") end)
function Shop:browse() self.client:get("/b") end
local function checkout(self) self.client:get("/c") end
Shop:task(1, Shop.browse)
Shop:task(1, checkout)
--
--
--
Shop:task(1, function(self) self.client:get("/fast") end)
`;

const TWO_CLASSES = `
Alpha = cicada.user { wait_time = cicada.constant(0.2), weight = 1 }
Alpha:task(function(self) self.client:get("/a") end)
Beta = cicada.user { wait_time = cicada.constant(0.2), weight = 3 }
Beta:task(function(self) self.client:get("/b") end)
`;

async function setup(scenario, args, viewport = { width: 1400, height: 900 }, ctxOpts = {}) {
  const s = { dir: tmpDir(), errors: [] };
  fs.writeFileSync(path.join(s.dir, "scenario.lua"), scenario);
  s.nginx = await startNginx(path.join(s.dir, "nginx"));
  s.cicada = await startCicada(["-f", "scenario.lua", "-H", s.nginx.url, ...args], { cwd: s.dir });
  s.browser = await launchChromium();
  s.context = await s.browser.newContext({ viewport, ...ctxOpts });
  s.page = await s.context.newPage();
  s.page.setDefaultTimeout(15000);
  s.page.on("pageerror", (e) => s.errors.push(String(e)));
  return s;
}

async function teardown(s) {
  if (!s) return;
  await s.browser?.close().catch(() => {});
  await s.cicada?.stop();
  await s.nginx?.stop();
  if (s.dir && !process.env.KEEP) fs.rmSync(s.dir, { recursive: true, force: true });
}

async function getJSON(s, route) {
  const r = await fetch(s.cicada.url + route);
  assert.equal(r.status, 200, `GET ${route}`);
  return r.json();
}

describe("forms pre-filled from the command line and the running test", { timeout: 90000 }, () => {
  let s;
  before(async () => { s = await setup(SCENARIO, ["-u", "7", "-r", "3"]); });
  after(() => teardown(s));

  it("the start form shows -u, -r and -H", async () => {
    await s.page.goto(s.cicada.url + "/");
    await s.page.locator("#start-overlay").waitFor({ state: "visible" });
    await waitFor(async () => (await s.page.inputValue("#user_count")) === "7", "user_count 7 from -u");
    assert.equal(await s.page.inputValue("#spawn_rate"), "3", "spawn_rate from -r");
    assert.equal(await s.page.inputValue("#host"), s.nginx.url, "host from -H");
  });

  it("Start runs the -u users, without touching the form", async () => {
    await s.page.click("#start-button");
    await s.page.locator("#start-overlay").waitFor({ state: "hidden" });
    await waitFor(async () => (await getJSON(s, "/stats/requests")).user_count === 7, "7 users running");
  });

  it("after a reload, Edit shows the running test's users and spawn rate", async () => {
    // change the test from outside the page: 5 users at 9/s
    const r = await fetch(s.cicada.url + "/swarm", {
      method: "POST", body: new URLSearchParams({ user_count: "5", spawn_rate: "9" }),
    });
    assert.equal(r.status, 200);
    await waitFor(async () => (await getJSON(s, "/stats/requests")).user_count === 5, "5 users running");
    await s.page.reload();
    await s.page.locator("#edit-button").waitFor({ state: "visible" });
    await waitFor(() => s.page.evaluate(() => document.getElementById("conn").classList.contains("live")), "live");
    // the socket opens before its first document arrives: wait for the page to show it
    await waitFor(async () => (await s.page.textContent("#users")).trim() === "5", "the page shows 5 users");
    await s.page.click("#edit-button");
    await s.page.locator("#edit-overlay").waitFor({ state: "visible" });
    assert.equal(await s.page.inputValue("#edit_user_count"), "5");
    assert.equal(await s.page.inputValue("#edit_spawn_rate"), "9");
    await s.page.click("#edit-cancel");
  });

  it("Current ratio names tasks by function and sorts file:line naturally", async () => {
    await s.page.click('.tabs button[data-tab="ratio"]');
    const names = await waitFor(() => s.page.evaluate(() => {
      const sec = document.querySelector('[data-testid="ratio-per_class"]');
      if (!sec) return null;
      const items = [...sec.querySelectorAll("ul ul > li")].map((li) => li.firstChild.nextSibling.textContent);
      return items.length === 4 && items;
    }), "four tasks in the per-class ratio");
    assert.ok(names.includes("browse"), `a method is named by Lua: ${names}`);
    assert.ok(names.includes("checkout"), `a local function is named by Lua: ${names}`);
    const a = names.indexOf("scenario.lua:2"), b = names.indexOf("scenario.lua:10");
    assert.ok(a >= 0 && b >= 0, `file:line names of the anonymous tasks: ${names}`);
    assert.ok(a < b, `scenario.lua:2 before scenario.lua:10: ${names}`);
  });

  it("after Stop, New test shows the last test's figures, not 1/1", async () => {
    await s.page.click("#stop-button");
    await s.page.locator("#new-test-button").waitFor({ state: "visible" });
    await s.page.click("#new-test-button");
    await s.page.locator("#start-overlay").waitFor({ state: "visible" });
    assert.equal(await s.page.inputValue("#user_count"), "5");
    assert.equal(await s.page.inputValue("#spawn_rate"), "9");
    assert.deepEqual(s.errors, []);
  });
});

describe("class picker (--class-picker)", { timeout: 90000 }, () => {
  let s;
  before(async () => { s = await setup(TWO_CLASSES, ["-u", "4", "-r", "20", "--class-picker"]); });
  after(() => teardown(s));

  it("lists the classes with their weights and fixed counts", async () => {
    await s.page.goto(s.cicada.url + "/");
    await s.page.locator("#class-picker").waitFor({ state: "visible" });
    assert.equal(await s.page.inputValue('[data-testid="weight-Alpha"]'), "1");
    assert.equal(await s.page.inputValue('[data-testid="weight-Beta"]'), "3");
    assert.equal(await s.page.inputValue('[data-testid="fixed-Beta"]'), "0");
    assert.ok(await s.page.isChecked('[data-testid="class-Alpha"]'));
    assert.ok(await s.page.isChecked('[data-testid="class-Beta"]'));
  });

  it("runs only the chosen class, with its fixed count", async () => {
    await s.page.uncheck('[data-testid="class-Alpha"]');
    await s.page.fill('[data-testid="fixed-Beta"]', "2");
    await s.page.click("#start-button");
    await s.page.locator("#start-overlay").waitFor({ state: "hidden" });
    await waitFor(async () => (await getJSON(s, "/stats/requests")).state === "running", "running");
    const j = await waitFor(async () => {
      const d = await getJSON(s, "/stats/requests");
      const b = d.stats.find((r) => r.name === "/b");
      return b && b.num_requests >= 5 && d;
    }, "5 requests of Beta's /b");
    assert.equal(j.user_count, 2, "Beta's fixed count of 2 users");
    const names = j.stats.map((r) => r.name);
    assert.ok(names.includes("/b"), `Beta's requests: ${names}`);
    assert.ok(!names.includes("/a"), `no request of the unchosen Alpha: ${names}`);
    const uc = await getJSON(s, "/user_classes");
    assert.deepEqual(uc.user_classes.map((c) => [c.name, c.selected, c.fixed_count]),
      [["Alpha", false, 0], ["Beta", true, 2]]);
    await fetch(s.cicada.url + "/stop");
    assert.deepEqual(s.errors, []);
  });
});

describe("figures, table and charts", { timeout: 60000 }, () => {
  let s;
  before(async () => { s = await setup(SCENARIO, [], { width: 800, height: 900 }); });
  after(() => teardown(s));

  /* A /stats/requests message as the WebSocket pushes it. */
  function message(t, i) {
    const row = (name, over) => Object.assign({
      method: "GET", name, num_requests: 123456 + i, num_failures: 12, median_response_time: 0.06,
      ninetieth_response_time: 0.09, ninety_ninth_response_time: 1.5, avg_response_time: 0.071,
      min_response_time: 0, max_response_time: 3.25, avg_content_length: 1234, current_rps: 1234.5,
      current_fail_per_sec: 0.1,
    }, over);
    return {
      state: "running", user_count: 3, total_rps: 12345.6 + i * 1000, fail_ratio: 0.003, time: t,
      stats: [row("/api/v1/some/rather/long/path/name"), row("/b"), row("Aggregated", { method: "" })],
      errors: [], workers: [], percentiles: { "50": 0.06, "95": 250 + i },
    };
  }

  it("feeds pushed messages", async () => {
    // Only the messages below reach the page: no WebSocket, and the
    // fallback fetch of /stats/requests gets the last of them.
    const t0 = Math.floor(Date.now() / 1000) + 1000;
    let current = message(t0, 0);
    await s.page.addInitScript(() => { window.WebSocket = function () { throw new Error("no WebSocket here"); }; });
    await s.page.route("**/stats/requests", (route) => route.fulfill({
      status: 200, contentType: "application/json", body: JSON.stringify(current),
    }));
    await s.page.goto(s.cicada.url + "/");
    await s.page.locator("#state").waitFor();
    await waitFor(async () => (await s.page.textContent("#state")) === "running", "the fed state");
    for (let i = 0; i < 6; i++) {
      current = message(t0 + i, i);
      await s.page.evaluate((m) => window.cicadaUI.onStats(m), current);
    }
  });

  it('shows "<1%" failures, not "0%"', async () => {
    assert.equal(await s.page.textContent("#fail-ratio"), "<1%");
  });

  it("shows every response time with one precision", async () => {
    const texts = await s.page.evaluate(() => {
      const tr = [...document.querySelectorAll("#stats-table tbody tr")].find((r) => r.dataset.name === "/b");
      return [...tr.children].slice(4, 10).map((td) => td.textContent);
    });
    assert.deepEqual(texts, ["0.06", "0.09", "1.50", "0.07", "0.00", "3.25"]);
  });

  it("does not scroll sideways at 800 px", async () => {
    const m = await s.page.evaluate(() => ({
      doc: document.documentElement.scrollWidth, win: document.documentElement.clientWidth,
      wrap: document.querySelector("#tab-stats .table-wrap").scrollWidth,
      wrapBox: document.querySelector("#tab-stats .table-wrap").clientWidth,
    }));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await s.page.screenshot({ path: path.join(ARTIFACTS, "ui-800px.png"), fullPage: true });
    assert.ok(m.doc <= m.win, `the page is ${m.doc} px wide in a ${m.win} px window`);
    assert.ok(m.wrap <= m.wrapBox + 1, `the statistics table is ${m.wrap} px wide in a ${m.wrapBox} px box`);
  });

  it("lines up the three charts' x-axes", async () => {
    await s.page.click('.tabs button[data-tab="charts"]');
    await sleep(300);
    const areas = await s.page.evaluate(() => ["chart-rps", "chart-response", "chart-users"].map((id) => {
      const c = window.Chart.getChart(document.getElementById(id));
      const r = c.canvas.getBoundingClientRect();
      return { left: r.left + c.chartArea.left, right: r.left + c.chartArea.right };
    }));
    for (const a of areas.slice(1)) {
      assert.ok(Math.abs(a.left - areas[0].left) <= 1, `plot areas start together: ${JSON.stringify(areas)}`);
      assert.ok(Math.abs(a.right - areas[0].right) <= 1, `plot areas end together: ${JSON.stringify(areas)}`);
    }
    assert.deepEqual(s.errors, []);
  });
});

describe("dark theme and the Logs tab", { timeout: 60000 }, () => {
  let s;
  before(async () => { s = await setup(SCENARIO, ["-u", "2", "-r", "10"], undefined, { colorScheme: "dark" }); });
  after(() => teardown(s));

  const background = (page) => page.evaluate(() => {
    const m = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
    return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255; // luminance, 0 black .. 1 white
  });

  it("follows the system's dark setting", async () => {
    await s.page.goto(s.cicada.url + "/");
    await s.page.locator("#start-overlay").waitFor({ state: "visible" });
    assert.equal(await s.page.getAttribute("html", "data-theme"), "dark");
    assert.ok((await background(s.page)) < 0.2, "a dark background");
  });

  it("the toggle switches to light, and the choice survives a reload", async () => {
    await s.page.evaluate(() => { document.getElementById("start-overlay").hidden = true; });
    await s.page.click("#theme-toggle");
    assert.equal(await s.page.getAttribute("html", "data-theme"), "light");
    assert.ok((await background(s.page)) > 0.8, "a light background");
    await s.page.reload();
    await s.page.locator("#start-overlay").waitFor({ state: "visible" }); // ready: the start form
    assert.equal(await s.page.getAttribute("html", "data-theme"), "light");
    await s.page.evaluate(() => { document.getElementById("start-overlay").hidden = true; });
    await s.page.click("#theme-toggle"); // back to dark: the system's choice again
    assert.equal(await s.page.getAttribute("html", "data-theme"), "dark");
    assert.equal(await s.page.evaluate(() => localStorage.getItem("cicada.theme")), null);
  });

  it("the Logs tab shows the run's log lines as they are pushed", async () => {
    await s.page.click('.tabs button[data-tab="logs"]');
    await waitFor(async () => (await s.page.textContent("#log-lines")).includes("Starting web interface"),
      "the start-up line in the Logs tab");
    const r = await fetch(s.cicada.url + "/swarm", {
      method: "POST", body: new URLSearchParams({ user_count: "2", spawn_rate: "10" }),
    });
    assert.equal(r.status, 200);
    await waitFor(async () => (await s.page.textContent("#log-lines")).includes("Ramping to 2 users"),
      "the swarm's log line, pushed over the WebSocket");
    await waitFor(async () => (await s.page.textContent("#log-lines")).includes("All users spawned"),
      "the spawning-complete line");
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await s.page.screenshot({ path: path.join(ARTIFACTS, "ui-dark-logs.png"), fullPage: true });
    await fetch(s.cicada.url + "/stop");
    assert.deepEqual(s.errors, []);
  });
});
