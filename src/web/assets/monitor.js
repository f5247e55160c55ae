/* cicada web UI: the "Target resources" chart group and the header's
 * per-target summary (docs/monitoring.md).
 *
 * Three charts under the request charts, made through charts.js's make()
 * so that they share its time axis (unix seconds) and drag-to-zoom: CPU
 * busy %, memory used %, and network/disk bytes/s, one line per monitored
 * target (network receive and disk read solid, transmit and write dashed).
 * A master's workers are drawn in the CPU chart too (their CPU is % of one
 * core, as the Workers tab shows it), and their memory (RSS) in a fourth
 * chart shown only then, so a saturated load generator can be told from a
 * saturated target. History comes from ./stats/monitor once,
 * then each pushed message's "monitor" document adds every series' newest
 * point (a point already seen, by time, is skipped). A failed scrape is a
 * point of nulls: the line breaks there.
 *
 * window.cicadaMonitor(ui) takes $, esc, getJSON and charts (charts.js's
 * controller) and returns {init, onMessage, targetsText}.
 */
window.cicadaMonitor = function (ui) {
  "use strict";

  var $ = ui.$, esc = ui.esc;
  var COLORS = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41", "#3949ab",
    "#c0ca33", "#d81b60"];
  var MAX_POINTS = 86400;
  var series = {}; /* key -> {label, color, cpu: [], mem: [], rx: [], tx: [], rd: [], wr: [], last} */
  var order = [];
  var cpuChart = null, memChart = null, ioChart = null, wmemChart = null;
  var lastDoc = null;

  function pct(v) { return v == null ? "–" : (Math.round(v * 10) / 10).toFixed(1) + " %"; }
  function bytes(v) {
    if (v == null) return "–";
    var u = ["B/s", "kB/s", "MB/s", "GB/s"], i = 0;
    while (v >= 1000 && i < u.length - 1) { v /= 1000; i++; }
    return (i ? v.toFixed(1) : Math.round(v)) + " " + u[i];
  }
  /* Axis labels that fit the charts' fixed axis width: 1.2M, 340k. */
  function short(v) {
    var u = ["", "k", "M", "G", "T"], i = 0;
    while (Math.abs(v) >= 1000 && i < u.length - 1) { v /= 1000; i++; }
    return (Math.round(v * 10) / 10) + u[i];
  }
  function ds(label, data, color, dash) {
    return { label: label, data: data, borderColor: color, backgroundColor: color, fill: false,
      borderDash: dash ? [5, 3] : undefined };
  }
  function ensure(key, label, isWorker) {
    var s = series[key];
    if (s) return s;
    var color = COLORS[order.length % COLORS.length];
    s = series[key] = { label: label, color: color, worker: isWorker, cpu: [], mem: [], rx: [], tx: [], rd: [], wr: [], last: -1 };
    order.push(key);
    if (isWorker) $("mon-workers-card").hidden = false;
    if (cpuChart) {
      cpuChart.data.datasets.push(ds(label, s.cpu, color, isWorker));
      if (isWorker) wmemChart.data.datasets.push(ds(label, s.mem, color, true));
      else {
        memChart.data.datasets.push(ds(label, s.mem, color));
        ioChart.data.datasets.push(ds(label + " net rx", s.rx, color), ds(label + " net tx", s.tx, color, true),
          ds(label + " disk read", s.rd, color), ds(label + " disk write", s.wr, color, true));
      }
    }
    $("monitor-group").hidden = false;
    return s;
  }
  function push(s, p) {
    if (p[0] <= s.last) return false;
    s.last = p[0];
    var t = p[0];
    if (s.worker) {
      s.cpu.push({ x: t, y: p[1] });
      s.mem.push({ x: t, y: p[2] });
    } else {
      s.cpu.push({ x: t, y: p[1] });
      s.mem.push({ x: t, y: p[4] });
      s.rx.push({ x: t, y: p[5] });
      s.tx.push({ x: t, y: p[6] });
      s.rd.push({ x: t, y: p[7] });
      s.wr.push({ x: t, y: p[8] });
    }
    if (s.cpu.length > MAX_POINTS)
      ["cpu", "mem", "rx", "tx", "rd", "wr"].forEach(function (k) { s[k].splice(0, s[k].length - MAX_POINTS); });
    return true;
  }
  /* A "monitor" document (./stats/monitor or the push's): add its points. */
  function addDoc(doc) {
    if (!doc) return false;
    var added = false;
    (doc.targets || []).forEach(function (t) {
      var s = ensure("t:" + t.name, t.name, false);
      (t.points || []).forEach(function (p) { added = push(s, p) || added; });
    });
    (doc.workers || []).forEach(function (w) {
      var s = ensure("w:" + w.id, "worker " + w.id, true);
      (w.points || []).forEach(function (p) { added = push(s, p) || added; });
    });
    return added;
  }
  function renderSummary(doc) {
    var ts = (doc && doc.targets || []).filter(function (t) { return t.active; });
    $("monitor-figure").hidden = ts.length === 0;
    $("monitor-summary").innerHTML = ts.map(function (t) {
      var p = (t.points || [])[t.points.length - 1] || [];
      var title = t.up ? t.url : "not answering: " + (t.error || "");
      return '<span class="mon-target' + (t.up ? "" : " down") + '" title="' + esc(title) + '">' + esc(t.name) + " CPU " +
        pct(p[1]) + " · mem " + pct(p[4]) + "</span>";
    }).join(" &nbsp; ");
  }
  function onMessage(d) {
    if (!d.monitor) return;
    lastDoc = d.monitor;
    renderSummary(d.monitor);
    if (addDoc(d.monitor)) ui.charts.update();
  }
  function init() {
    cpuChart = ui.charts.make($("chart-mon-cpu"), [], pct);
    memChart = ui.charts.make($("chart-mon-mem"), [], pct);
    ioChart = ui.charts.make($("chart-mon-io"), [], bytes);
    wmemChart = ui.charts.make($("chart-mon-wmem"), [], function (v) { return short(v) + "B"; });
    if (cpuChart) {
      cpuChart.options.scales.y.suggestedMax = 100;
      memChart.options.scales.y.suggestedMax = 100;
      ioChart.options.scales.y.ticks.callback = short;
      wmemChart.options.scales.y.ticks.callback = short;
    }
    return ui.getJSON("./stats/monitor").then(function (doc) {
      addDoc(doc);
      renderSummary(doc);
      lastDoc = doc;
      ui.charts.update();
    }).catch(function () {});
  }
  /* The active targets as the forms' text: NAME=URL, one per line. */
  function targetsText() {
    return (lastDoc && lastDoc.targets || []).filter(function (t) { return t.active; })
      .map(function (t) { return t.name + "=" + t.url; }).join("\n");
  }
  return { init: init, onMessage: onMessage, targetsText: targetsText };
};
