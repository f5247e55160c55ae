/* cicada web UI.
 *
 * Plain JavaScript, no build step. The server pushes the /stats/requests
 * JSON over the ./ws WebSocket once a second; every message updates the
 * header, appends one point to the charts' history and re-renders the
 * visible tab. The statistics table is rebuilt with one innerHTML per
 * message (no per-cell DOM work), so 1,000 request names stay cheap, and
 * the sort order survives the rebuild. The charts live in charts.js, the
 * class picker, the theme and the Logs tab in extras.js (loaded first).
 * While the WebSocket is down the page reconnects with back-off and, so
 * that it never shows stale figures, fetches ./stats/requests once per
 * attempt; there is no polling while the socket is up.
 *
 * The forms are pre-filled from the pushed target_user_count and
 * spawn_rate (-u/-r before the first run, then the running test's), the
 * class picker (--class-picker) from ./user_classes, and the Logs tab
 * from the pushed "logs" lines (./logs fills a gap). The theme follows the
 * system (prefers-color-scheme) until the toggle picks one, kept in
 * localStorage.
 */
(function () {
  "use strict";

  var EXCEPTIONS_EVERY_MS = 5000;

  var $ = function (id) { return document.getElementById(id); };

  /* ---- escaping ---- */
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(s) {
    return s == null ? "" : String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; });
  }
  /* The API HTML-escapes error texts and exception messages (as Locust
   * does); decode the usual entities and escape again, so the text shows
   * as the server meant it whether or not it was escaped. */
  function unesc(s) {
    return s == null ? "" : String(s)
      .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
      .replace(/&#x27;|&#39;/g, "'").replace(/&amp;/g, "&");
  }
  function reesc(s) { return esc(unesc(s)); }

  /* ---- number formatting ---- */
  function fmtInt(v) { return v == null ? "" : String(Math.round(v)); }
  function fmt1(v) { return v == null ? "" : (Math.round(v * 10) / 10).toFixed(1); }
  function fmtMs(v) {
    if (v == null) return "";
    return v >= 100 || v === Math.round(v) ? String(Math.round(v)) : (Math.round(v * 100) / 100).toString();
  }
  /* One precision for every response time in the table, so that 0.06
   * never stands beside 0: 2 decimals while the largest is under 10 ms,
   * 1 under 100 ms, whole milliseconds above. */
  var MS_KEYS = ["median_response_time", "ninetieth_response_time", "ninety_ninth_response_time",
    "avg_response_time", "min_response_time", "max_response_time"];
  function msDigits(rows) {
    var top = 0;
    rows.forEach(function (s) { MS_KEYS.forEach(function (k) { if (s[k] > top) top = s[k]; }); });
    return top >= 100 ? 0 : top >= 10 ? 1 : 2;
  }
  function fmtFixed(v, digits) { return v == null ? "" : Number(v).toFixed(digits); }
  /* A failure ratio as a whole percentage that never rounds to a lie:
   * some failures are "<1%", not "0%", and not all are ">99%", not "100%". */
  function fmtRatio(r) {
    r = r || 0;
    if (r > 0 && r < 0.005) return "<1%";
    if (r < 1 && r > 0.995) return ">99%";
    return Math.round(r * 100) + "%";
  }
  /* Natural order: "fail.lua:2" before "fail.lua:10". */
  function natural(a, b) { return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" }); }
  function two(n) { return n < 10 ? "0" + n : "" + n; }
  function hms(t) {
    var d = new Date(t * 1000);
    return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
  }

  /* ---- state ---- */
  var last = null;              /* the last stats message */
  var activeTab = "stats";
  var sort = { key: null, dir: 1 }; /* null: server order */
  var lastExceptionsFetch = 0;
  var charts = null, extras = null, monitor = null; /* charts.js, extras.js, monitor.js: made by init() */
  var rules = null;                 /* thresholds.js: the thresholds panel */
  var formTouched = false;      /* the start form was edited: don't overwrite it */

  /* ---- requests ---- */
  function post(url, fields) {
    var body = new URLSearchParams();
    Object.keys(fields).forEach(function (k) {
      var v = fields[k];
      if (Array.isArray(v)) v.forEach(function (x) { body.append(k, x); }); /* a repeated field */
      else if (v !== "" && v != null) body.append(k, v);
    });
    return fetch(url, { method: "POST", body: body, credentials: "same-origin" }).then(function (r) {
      return r.text().then(function (t) {
        try { return JSON.parse(t); } catch (e) { return { success: r.ok, message: t || r.statusText }; }
      });
    });
  }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }

  /* ---- header and buttons ---- */
  function renderHeader(d) {
    var st = d.state || "ready";
    var el = $("state");
    el.textContent = st;
    el.className = "state " + st;
    $("users").textContent = d.user_count != null ? d.user_count : 0;
    $("rps").textContent = fmt1(d.total_rps || 0);
    $("fail-ratio").textContent = fmtRatio(d.fail_ratio);
    $("cut-off").textContent = d.cut_off || 0;
    $("cut-figure").hidden = !d.cut_off;
    /* the open model's counts: shown whenever iterations arrive at a rate */
    var open = d.arrival_rate > 0 || d.late > 0 || d.dropped > 0;
    $("late").textContent = d.late || 0;
    $("dropped").textContent = d.dropped || 0;
    $("late-figure").hidden = !open;
    $("dropped-figure").hidden = !open;
    if (d.host != null) setHost(d.host);
    var workers = d.workers || [];
    $("workers-figure").hidden = workers.length === 0;
    $("worker-count").textContent = workers.length;

    var active = st === "spawning" || st === "running";
    $("stop-button").hidden = !active;
    $("edit-button").hidden = !active;
    $("new-test-button").hidden = active || st === "stopping";
    if (!active && $("edit-overlay").hidden === false) $("edit-overlay").hidden = true;
    if (st === "ready" && !startShownOnce) showStart(false);
  }
  var startShownOnce = false;
  function setHost(h) {
    $("host-label").textContent = h || "–";
    $("host-label").title = h || "";
    if (!formTouched && h && !$("host").value) $("host").value = h;
  }

  /* An empty table shows its one-line message, not a bare header. */
  function wrapOf(id) { return $(id).parentNode; }

  /* ---- statistics table ---- */
  function cmp(a, b) {
    var x = a[sort.key], y = b[sort.key];
    if (x == null) x = typeof y === "string" ? "" : -Infinity;
    if (y == null) y = typeof x === "string" ? "" : -Infinity;
    if (typeof x === "string" || typeof y === "string") {
      x = String(x).toLowerCase(); y = String(y).toLowerCase();
    }
    return x < y ? -sort.dir : x > y ? sort.dir : 0;
  }
  function statsRow(s, total, digits) {
    return "<tr" + (total ? ' class="total"' : "") + ' data-name="' + esc(s.name) + '" data-method="' + esc(s.method || "") + '">' +
      "<td>" + esc(s.method || "") + '</td><td class="name">' + esc(s.name) + "</td>" +
      '<td class="num">' + fmtInt(s.num_requests) + '</td><td class="num' + (s.num_failures ? " fail" : "") + '">' + fmtInt(s.num_failures) + "</td>" +
      '<td class="num">' + fmtFixed(s.median_response_time, digits) + '</td><td class="num">' + fmtFixed(s.ninetieth_response_time, digits) + "</td>" +
      '<td class="num">' + fmtFixed(s.ninety_ninth_response_time, digits) + '</td><td class="num">' + fmtFixed(s.avg_response_time, digits) + "</td>" +
      '<td class="num">' + fmtFixed(s.min_response_time, digits) + '</td><td class="num">' + fmtFixed(s.max_response_time, digits) + "</td>" +
      '<td class="num">' + fmtInt(s.avg_content_length) + '</td><td class="num">' + fmt1(s.current_rps) + "</td>" +
      '<td class="num">' + fmt1(s.current_fail_per_sec) + "</td></tr>";
  }
  function renderStats(d) {
    var rows = d.stats || [];
    var total = rows.length ? rows[rows.length - 1] : null;
    var list = rows.slice(0, -1);
    if (sort.key) list.sort(cmp);
    var html = new Array(list.length + 1), digits = msDigits(rows);
    for (var i = 0; i < list.length; i++) html[i] = statsRow(list[i], false, digits);
    html[list.length] = total && (list.length || total.num_requests) ? statsRow(total, true, digits) : "";
    $("stats-table").tBodies[0].innerHTML = html.join("");
    $("stats-empty").hidden = list.length > 0;
    wrapOf("stats-table").hidden = list.length === 0;
  }
  function initSort() {
    var ths = $("stats-table").tHead.rows[0].cells;
    Array.prototype.forEach.call(ths, function (th) {
      th.addEventListener("click", function () {
        var key = th.getAttribute("data-key");
        if (sort.key === key) sort.dir = -sort.dir;
        else { sort.key = key; sort.dir = key === "name" || key === "method" ? 1 : -1; }
        Array.prototype.forEach.call(ths, function (o) { o.classList.remove("asc", "desc"); });
        th.classList.add(sort.dir > 0 ? "asc" : "desc");
        if (last) renderStats(last);
      });
    });
  }

  /* ---- failures, exceptions, workers, ratio ---- */
  function renderFailures(d) {
    var errs = (d.errors || []).slice().sort(function (a, b) { return b.occurrences - a.occurrences; });
    var html = errs.map(function (e) {
      return '<tr data-name="' + reesc(e.name) + '"><td>' + esc(e.method) + '</td><td class="name">' + reesc(e.name) +
        "</td><td>" + reesc(e.error) + '</td><td class="num">' + fmtInt(e.occurrences) + "</td></tr>";
    });
    $("failures-table").tBodies[0].innerHTML = html.join("");
    $("failures-empty").hidden = errs.length > 0;
    wrapOf("failures-table").hidden = errs.length === 0;
  }
  function renderFailureBadge(d) {
    var n = (d.errors || []).length, b = $("failures-count");
    b.hidden = n === 0;
    b.textContent = n;
  }
  function renderExceptions(list) {
    var html = list.map(function (x) {
      return '<tr><td class="num">' + fmtInt(x.count) + "</td><td>" + reesc(x.msg) + "</td><td><pre>" + reesc(x.traceback) +
        "</pre></td><td>" + reesc(x.nodes) + "</td></tr>";
    });
    $("exceptions-table").tBodies[0].innerHTML = html.join("");
    $("exceptions-empty").hidden = list.length > 0;
    wrapOf("exceptions-table").hidden = list.length === 0;
    var b = $("exceptions-count");
    b.hidden = list.length === 0;
    b.textContent = list.length;
  }
  function fetchExceptions() {
    lastExceptionsFetch = Date.now();
    getJSON("./exceptions").then(function (j) { renderExceptions(j.exceptions || []); }).catch(function () {});
  }
  function renderWorkers(d) {
    var ws = d.workers || [];
    $("workers-table").tBodies[0].innerHTML = ws.map(function (w) {
      return '<tr data-name="' + esc(w.id) + '"><td>' + esc(w.id) + "</td><td>" + esc(w.state) + '</td><td class="num">' +
        fmtInt(w.user_count) + '</td><td class="num">' + (w.cpu_usage != null ? fmt1(w.cpu_usage) + "%" : "") +
        '</td><td class="num">' + (w.memory_usage != null ? (w.memory_usage / 1048576).toFixed(0) + " MB" : "") + "</td></tr>";
    }).join("");
    $("workers-empty").hidden = ws.length > 0;
    wrapOf("workers-table").hidden = ws.length === 0;
  }
  function ratioTree(tasks) {
    var names = Object.keys(tasks || {}).sort(function (a, b) { return tasks[b].ratio - tasks[a].ratio || natural(a, b); });
    if (!names.length) return "";
    return "<ul>" + names.map(function (n) {
      var t = tasks[n];
      return '<li><span class="pct">' + (t.ratio * 100).toFixed(1) + "%</span>" + esc(n) + ratioTree(t.tasks) + "</li>";
    }).join("") + "</ul>";
  }
  function fetchRatio() {
    getJSON("./tasks").then(function (j) {
      var html = "";
      [["per_class", "Ratio per user class"], ["total", "Total ratio"]].forEach(function (p) {
        html += '<section data-testid="ratio-' + p[0] + '"><h3>' + p[1] + "</h3>" + (ratioTree(j[p[0]]) || '<p class="empty">No user classes.</p>') + "</section>";
      });
      $("ratio").innerHTML = html;
    }).catch(function (e) { $("ratio").innerHTML = '<p class="empty">Could not load the ratio: ' + esc(e.message) + "</p>"; });
  }

  /* The full-history CSV exists only with --csv-full-history (else 404).
   * GET, not HEAD (the server routes GET only); the body is not read. */
  function checkHistoryCsv() {
    var ctl = window.AbortController ? new AbortController() : null;
    fetch("./stats/requests_full_history/csv", { credentials: "same-origin", signal: ctl && ctl.signal }).then(function (r) {
      $("history-csv-item").hidden = r.status === 404;
      if (ctl) ctl.abort();
    }).catch(function () {});
  }

  /* ---- one stats message ---- */
  function onStats(d) {
    last = d;
    renderHeader(d);
    renderFailureBadge(d);
    prefill(d);
    extras.onLogs(d.logs);
    if (rules) rules.render(d.thresholds);
    charts.add(d);
    monitor.onMessage(d);
    renderTab(false);
  }
  function renderTab(shown) {
    if (document.hidden) return; /* catch up on visibilitychange */
    if (activeTab === "stats" && last) renderStats(last);
    else if (activeTab === "failures" && last) renderFailures(last);
    else if (activeTab === "workers" && last) renderWorkers(last);
    else if (activeTab === "charts" && shown) charts.update();
    else if (activeTab === "ratio" && shown) fetchRatio();
    else if (activeTab === "download" && shown) checkHistoryCsv();
    else if (activeTab === "logs") extras.renderLogs();
    if (activeTab === "exceptions" && (shown || Date.now() - lastExceptionsFetch >= EXCEPTIONS_EVERY_MS)) fetchExceptions();
  }

  /* ---- tabs ---- */
  function showTab(name) {
    activeTab = name;
    Array.prototype.forEach.call(document.querySelectorAll(".tabs button"), function (b) {
      var on = b.getAttribute("data-tab") === name;
      b.classList.toggle("active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    });
    Array.prototype.forEach.call(document.querySelectorAll(".panel"), function (p) {
      p.classList.toggle("active", p.getAttribute("data-panel") === name);
    });
    if (history.replaceState) history.replaceState(null, "", "#" + name);
    renderTab(true);
  }

  /* ---- live connection ---- */
  var ws = null, retry = 0;
  function setConn(cls, title) { var c = $("conn"); c.className = "conn " + cls; c.title = title; }
  function fetchStats() {
    return getJSON("./stats/requests").then(onStats).catch(function () {});
  }
  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
      location.pathname.replace(/[^/]*$/, "") + "ws";
    try { ws = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    ws.onopen = function () { retry = 0; setConn("live", "Live updates"); };
    ws.onmessage = function (ev) {
      var d;
      try { d = JSON.parse(ev.data); } catch (e) { return; }
      onStats(d);
    };
    ws.onclose = function () { ws = null; setConn("down", "Disconnected: reconnecting"); scheduleReconnect(); };
    ws.onerror = function () { /* onclose follows */ };
  }
  function scheduleReconnect() {
    retry++;
    var delay = Math.min(5000, 500 * retry);
    setTimeout(function () { fetchStats(); connect(); }, delay);
  }

  /* ---- forms and buttons ---- */
  function showStart(cancelable) {
    startShownOnce = true;
    $("start-overlay").hidden = false;
    $("start-cancel").hidden = !cancelable;
    $("start-message").hidden = true;
    $("user_count").focus();
  }
  function formMessage(id, msg) { var m = $(id); m.textContent = msg; m.hidden = !msg; }
  function initForms() {
    ["user_count", "spawn_rate", "host", "run_time", "class-picker", "monitor"].forEach(function (id) {
      $(id).addEventListener("input", function () { formTouched = true; });
    });
    $("start-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var btn = $("start-button");
      var fields = extras.fields({
        user_count: $("user_count").value, spawn_rate: $("spawn_rate").value,
        host: $("host").value.trim(), run_time: $("run_time").value.trim()
      });
      if (!fields) { formMessage("start-message", "Choose at least one user class"); return; }
      /* the monitored targets only when changed here: the field replaces them all */
      if ($("monitor").value.trim() !== monitor.targetsText()) fields.monitor = $("monitor").value;
      btn.disabled = true;
      post("./swarm", fields).then(function (j) {
        if (j.success === false) { formMessage("start-message", j.message || "Could not start"); return; }
        $("start-overlay").hidden = true;
        formTouched = false; /* the form follows the running test again */
        if (j.host != null) setHost(j.host);
        /* a new run: break the chart lines, start from the stats tab */
        charts.gap(Math.floor(Date.now() / 1000));
        showTab(activeTab === "charts" ? "charts" : "stats");
        if (!ws) fetchStats();
      }).catch(function (err) { formMessage("start-message", String(err)); })
        .then(function () { btn.disabled = false; });
    });
    $("start-cancel").addEventListener("click", function () { $("start-overlay").hidden = true; });
    $("new-test-button").addEventListener("click", function () {
      extras.loadClasses(); /* the classes the last test ran */
      showStart(true);
    });

    $("edit-button").addEventListener("click", function () {
      /* the running test's figures (Locust: its num_users and spawn_rate) */
      $("edit_user_count").value = last && last.target_user_count != null ? last.target_user_count :
        last && last.user_count != null ? last.user_count : $("user_count").value;
      $("edit_spawn_rate").value = last && last.spawn_rate != null ? last.spawn_rate : $("spawn_rate").value;
      $("edit_monitor").value = monitor.targetsText();
      formMessage("edit-message", "");
      $("edit-overlay").hidden = false;
      $("edit_user_count").focus();
    });
    $("edit-cancel").addEventListener("click", function () { $("edit-overlay").hidden = true; });
    $("edit-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var u = $("edit_user_count").value, r = $("edit_spawn_rate").value;
      var f = { user_count: u, spawn_rate: r };
      if ($("edit_monitor").value.trim() !== monitor.targetsText()) f.monitor = $("edit_monitor").value;
      post("./swarm", f).then(function (j) {
        if (j.success === false) { formMessage("edit-message", j.message || "Could not change the test"); return; }
        $("user_count").value = u;
        $("spawn_rate").value = r;
        $("edit-overlay").hidden = true;
      }).catch(function (err) { formMessage("edit-message", String(err)); });
    });

    $("stop-button").addEventListener("click", function () {
      post("./stop", {}).then(function () { if (!ws) fetchStats(); });
    });
    $("reset-button").addEventListener("click", function () {
      post("./stats/reset", {}).then(function () {
        renderExceptions([]);
        fetchStats();
      });
    });
    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") return;
      if (!$("edit-overlay").hidden) $("edit-overlay").hidden = true;
      else if (!$("start-overlay").hidden && !$("start-cancel").hidden) $("start-overlay").hidden = true;
    });
  }

  /* ---- pre-filled forms ---- */
  /* The start form shows the last test's figures (or -u and -r), unless
   * the user has typed into it since it was last used. */
  function prefill(d) {
    if (formTouched) return;
    if (d.target_user_count != null) $("user_count").value = d.target_user_count;
    if (d.spawn_rate != null) $("spawn_rate").value = d.spawn_rate;
    if (d.monitor) $("monitor").value = monitor.targetsText();
  }


  /* For tests and debugging: feed a message as if it came from ./ws. */
  window.cicadaUI = { onStats: function (d) { onStats(d); }, points: function () { return charts.points(); } };

  /* ---- start ---- */
  function init() {
    initSort();
    initForms();
    charts = window.cicadaCharts({
      $: $, hms: hms, fmtMs: fmtMs, getJSON: getJSON,
      visible: function () { return activeTab === "charts" && !document.hidden; }
    });
    extras = window.cicadaExtras({
      $: $, esc: esc, getJSON: getJSON,
      retheme: function () { charts.retheme(); },
      shown: function (tab) { return activeTab === tab; }
    });
    rules = window.cicadaThresholds ? window.cicadaThresholds({ $: $, esc: esc }) : null;
    charts.init();
    monitor = window.cicadaMonitor({ $: $, esc: esc, getJSON: getJSON, charts: charts });
    monitor.init();
    extras.initTheme();
    extras.loadClasses();
    Array.prototype.forEach.call(document.querySelectorAll(".tabs button"), function (b) {
      b.addEventListener("click", function () { showTab(b.getAttribute("data-tab")); });
    });
    document.addEventListener("visibilitychange", function () { if (!document.hidden) renderTab(true); });
    var h = location.hash.replace("#", "");
    if (document.querySelector('.tabs button[data-tab="' + h + '"]')) showTab(h);
    setConn("", "Connecting");
    charts.seed().then(function () { return fetchStats(); }).then(connect);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
