// Helpers for the browser tests: real processes on free ports of 127.0.0.1.
//
// - freePort(): a TCP port nothing listens on right now.
// - startNginx(dir): Debian's nginx with its own config, pid file, logs and
//   temp paths in `dir`, on a free port; a few fixed paths answer 200.
// - startCicada(args, {cwd}): ./cicada (or $CICADA) with its web UI on a free
//   port; resolves once the port accepts connections.
// - launchChromium(): Debian's /usr/bin/chromium through playwright-core,
//   never a downloaded browser.
// - Every process started here is stopped by its own PID (TERM or QUIT,
//   then KILL), at the latest when the test process exits.
//
// All traffic goes to 127.0.0.1 only.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const CICADA = process.env.CICADA || path.join(REPO, "cicada");
export const NGINX = "/usr/sbin/nginx";
export const CHROMIUM = "/usr/bin/chromium";
export const ARTIFACTS = path.join(REPO, "tests/web/artifacts");

export const CHROMIUM_ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* ---- processes ---- */

const live = new Set(); // child processes still running

process.on("exit", () => {
  for (const p of live) {
    try { process.kill(p.pid, "SIGKILL"); } catch { /* gone */ }
  }
});

/** Note a child process so that stopProcess and the exit hook can end it. */
export function track(child, name) {
  child.name = name;
  child.output = "";
  const keep = (b) => { child.output = (child.output + b.toString()).slice(-20000); };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.exited = new Promise((resolve) => child.on("exit", (code, sig) => {
    live.delete(child);
    child.exitCode_ = code;
    resolve(code ?? sig);
  }));
  live.add(child);
  return child;
}

/** Stop a child by its PID: `sig`, then SIGKILL after `ms`. */
export async function stopProcess(child, sig = "SIGTERM", ms = 5000) {
  if (!child || !live.has(child)) return child?.exitCode_;
  try { process.kill(child.pid, sig); } catch { /* gone */ }
  const t = setTimeout(() => { try { process.kill(child.pid, "SIGKILL"); } catch { /* gone */ } }, ms);
  const code = await child.exited;
  clearTimeout(t);
  return code;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const c = net.connect({ host: "127.0.0.1", port });
    c.setTimeout(500);
    c.on("connect", () => { c.destroy(); resolve(true); });
    c.on("error", () => resolve(false));
    c.on("timeout", () => { c.destroy(); resolve(false); });
  });
}

/** Wait until 127.0.0.1:port accepts connections (or `child` exits). */
export async function waitPort(port, child, ms = 10000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child && !live.has(child)) {
      throw new Error(`${child.name} exited (${child.exitCode_}) before listening on ${port}:\n${child.output}`);
    }
    if (await canConnect(port)) return;
    await sleep(30);
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${ms} ms` +
    (child ? `\n${child.name} output:\n${child.output}` : ""));
}

/** Poll fn() until it returns a truthy value; throws with `what` at the deadline. */
export async function waitFor(fn, what, ms = 15000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { last = e; }
    await sleep(every);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

export function tmpDir(prefix = "cicada-web-") {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/* ---- nginx ---- */

function nginxConf(d, port) {
  const user = process.getuid && process.getuid() === 0 ? "user root;" : "";
  return `daemon off;
master_process on;
worker_processes 1;
${user}
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 1024; }
http {
    default_type text/plain;
    log_format web '$request_method $request_uri $status $body_bytes_sent';
    access_log ${d}/access.log web;
    client_body_temp_path ${d}/tmp/body;
    proxy_temp_path ${d}/tmp/proxy;
    fastcgi_temp_path ${d}/tmp/fastcgi;
    uwsgi_temp_path ${d}/tmp/uwsgi;
    scgi_temp_path ${d}/tmp/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:${port};
        location = /      { return 200 "hello from nginx\\n"; }
        location = /fast  { return 200 "fast\\n"; }
        location = /a     { return 200 "aaaa\\n"; }
        location = /b     { return 200 "bbbbbbbb\\n"; }
        location = /c     { return 200 "cccccccccccc\\n"; }
        location = /missing { return 404 "not here\\n"; }
        location /        { return 200 "any\\n"; }
    }
}
`;
}

/** A private nginx on a free port of 127.0.0.1, configured and logging in `dir`. */
export async function startNginx(dir) {
  fs.mkdirSync(path.join(dir, "tmp"), { recursive: true });
  const port = await freePort();
  const conf = path.join(dir, "nginx.conf");
  fs.writeFileSync(conf, nginxConf(dir, port));
  const child = track(spawn(NGINX, ["-p", dir, "-c", conf, "-e", path.join(dir, "error.log")],
    { stdio: ["ignore", "pipe", "pipe"] }), "nginx");
  try {
    await waitPort(port, child);
  } catch (e) {
    await stopProcess(child, "SIGQUIT");
    const log = fs.existsSync(path.join(dir, "error.log")) ? fs.readFileSync(path.join(dir, "error.log"), "utf8") : "";
    throw new Error(`${e.message}\n${log}`);
  }
  return { port, url: `http://127.0.0.1:${port}`, dir, proc: child, stop: () => stopProcess(child, "SIGQUIT", 10000) };
}

/* ---- cicada ---- */

/** ./cicada ARGS --web-port <free> in `cwd`; resolves when the UI listens.
 *  Returns {port, url, proc, stop()}. */
export async function startCicada(args, { cwd, webPort } = {}) {
  if (!fs.existsSync(CICADA)) throw new Error(`${CICADA} does not exist: run make first`);
  const port = webPort || await freePort();
  const child = track(spawn(CICADA, [...args, "--web-host", "127.0.0.1", "--web-port", String(port)],
    { cwd, stdio: ["ignore", "pipe", "pipe"] }), "cicada");
  await waitPort(port, child);
  return { port, url: `http://127.0.0.1:${port}`, proc: child, stop: () => stopProcess(child, "SIGTERM", 10000) };
}

/* ---- chromium ---- */

export async function launchChromium() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
}

/* ---- CSV ---- */

/** RFC 4180 CSV text to an array of objects keyed by the header row. */
export function parseCsv(text) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") { row.push(field); field = ""; }
    else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += ch;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  const [head, ...body] = rows;
  return body.map((r) => Object.fromEntries(head.map((h, j) => [h, r[j]])));
}
