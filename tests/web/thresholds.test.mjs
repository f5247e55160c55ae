// Thresholds in the web UI: the Statistics tab shows each rule as a chip,
// green while it passes, turning red when it fails (pushed over the
// WebSocket each second), with its live value; a rule that holds stays
// green. A run with no rule shows no panel.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { launchChromium, startCicada, startNginx, tmpDir, waitFor } from "./helpers.mjs";

const SCENARIO = `
U = cicada.user { wait_time = cicada.constant(0.05) }
U:task(1, function(self) self.client:get("/") end)
cicada.thresholds{ "p95<10000" }
`;

describe("thresholds panel in Chromium", { timeout: 90000 }, () => {
  let dir, nginx, cicada, browser;

  before(async () => {
    dir = tmpDir();
    fs.writeFileSync(path.join(dir, "scenario.lua"), SCENARIO);
    nginx = await startNginx(path.join(dir, "nginx"));
    // requests<300 holds for the first seconds of 2 users (about 40/s), then fails
    cicada = await startCicada(["-f", "scenario.lua", "-H", nginx.url, "--autostart", "-u", "2",
      "-r", "2", "--threshold", "requests<300"], { cwd: dir });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await cicada?.stop();
    await nginx?.stop();
    if (dir && !process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a rule turns red when it fails, the other stays green", async () => {
    const page = await browser.newPage();
    await page.goto(cicada.url + "/");
    const chip = (rule) => page.locator(`#thresholds .rule[data-rule="${rule}"]`);
    await waitFor(async () => (await chip("requests<300").count()) === 1, "the requests<300 chip");
    assert.ok((await chip("requests<300").getAttribute("class")).includes("pass"),
      "requests<300 passes (green) at first");
    await waitFor(async () => (await chip("requests<300").getAttribute("class")).includes("fail"),
      "requests<300 to turn red", 20000);
    assert.equal(await chip("requests<300").getAttribute("data-ok"), "false");
    const color = await chip("requests<300").evaluate((e) => getComputedStyle(e).color);
    const danger = await page.evaluate(() => {
      const probe = document.createElement("span");
      probe.style.color = "var(--danger)";
      document.body.appendChild(probe);
      const c = getComputedStyle(probe).color;
      probe.remove();
      return c;
    });
    assert.equal(color, danger, "the failed rule is drawn in the danger colour");
    assert.match(await chip("requests<300").textContent(), /requests<300\s+\d+/);
    assert.ok((await chip("p95<10000").getAttribute("class")).includes("pass"), "p95<10000 passes");
    assert.match(await chip("p95<10000").textContent(), / ms$/);
    assert.equal(await page.locator("#thresholds").isVisible(), true);
    await page.close();
  });
});

describe("no thresholds, no panel", { timeout: 60000 }, () => {
  let dir, cicada, browser;

  before(async () => {
    dir = tmpDir();
    fs.writeFileSync(path.join(dir, "scenario.lua"), SCENARIO.replace(/cicada\.thresholds.*\n/, ""));
    cicada = await startCicada(["-f", "scenario.lua", "-H", "http://127.0.0.1:9"], { cwd: dir });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await cicada?.stop();
    if (dir && !process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the panel stays hidden", async () => {
    const page = await browser.newPage();
    await page.goto(cicada.url + "/");
    await waitFor(async () => (await page.textContent("#state")) === "ready", "state ready");
    assert.equal(await page.locator("#thresholds").isVisible(), false);
    await page.close();
  });
});
