/* cicada web UI: the three live charts (app.js builds the rest of the page).
 *
 * Chart.js 3.9 line charts on a linear x-axis of unix seconds (no date
 * adapter needed), with animation off and min-max decimation so that an
 * hour of points stays fast. The history holds one point per pushed
 * message while a test runs (at most a day of them) and a point of nulls
 * between runs, so lines break there. Zooming is drag-to-select with mouse
 * events, shared by the three charts. Every chart's y-axis has one fixed
 * width, so that the plot areas, and so the x-axes, line up. Colours of
 * grids and labels come from the page's CSS variables (the theme);
 * retheme() applies a new theme.
 *
 * window.cicadaCharts(ui) makes the charts' controller; ui gives $, hms,
 * fmtMs, getJSON and visible() (the Charts tab is shown). It returns
 * {init, seed, add, gap, update, retheme, points, make}; make(canvas,
 * datasets, fmt) adds a chart on the same time axis and zoom (monitor.js's
 * "Target resources"), fmt formatting its tooltip values.
 */
window.cicadaCharts = function (ui) {
  "use strict";

  var $ = ui.$, hms = ui.hms, fmtMs = ui.fmtMs, getJSON = ui.getJSON;
  var PCTS = ["50", "66", "75", "80", "90", "95", "98", "99", "99.9", "100"];
  var PCT_COLORS = {
    "50": "#2fa36b", "66": "#7cb342", "75": "#c0ca33", "80": "#fdd835", "90": "#fb8c00",
    "95": "#e53935", "98": "#8e24aa", "99": "#3949ab", "99.9": "#00897b", "100": "#455a64"
  };
  var MAX_POINTS = 86400; /* one day of 1 s points */

  var hist = { t: [], rps: [], fail: [], users: [], pct: {} };
  PCTS.forEach(function (p) { hist.pct[p] = []; });
  var charts = [];
  var zoom = null; /* {min, max} in unix seconds, or null for all */
  var gapPending = false;

  function pushPoint(time, rps, fail, users, pcts) {
    var n = hist.t.length;
    if (n && time <= hist.t[n - 1]) return false;
    hist.t.push(time);
    hist.rps.push({ x: time, y: rps });
    hist.fail.push({ x: time, y: fail });
    hist.users.push({ x: time, y: users });
    PCTS.forEach(function (p) {
      var v = pcts ? pcts[p] : null;
      hist.pct[p].push({ x: time, y: v == null || v < 0 ? null : v });
    });
    if (hist.t.length > MAX_POINTS) {
      var drop = hist.t.length - MAX_POINTS;
      hist.t.splice(0, drop);
      [hist.rps, hist.fail, hist.users].concat(PCTS.map(function (p) { return hist.pct[p]; }))
        .forEach(function (a) { a.splice(0, drop); });
    }
    return true;
  }
  /* A point of nulls, so that lines break between test runs. */
  function pushGap(time) {
    pushPoint(time, null, null, null, null);
  }
  function percentilesOf(d) {
    if (d.percentiles) return d.percentiles;
    return { "50": d.current_response_time_percentile_50, "95": d.current_response_time_percentile_95 };
  }
  function addMessagePoint(d) {
    var t = d.time != null ? Math.floor(d.time) : Math.floor(Date.now() / 1000);
    var st = d.state;
    if (st === "spawning" || st === "running") {
      var total = (d.stats || [])[(d.stats || []).length - 1] || {};
      pushPoint(t, d.total_rps || 0, total.current_fail_per_sec || 0, d.user_count || 0, percentilesOf(d));
      gapPending = true;
    } else if (gapPending) {
      pushGap(t);
      gapPending = false;
    } else return;
    updateCharts();
  }

  function niceStep(span, px) {
    var want = span / Math.max(2, px / 90);
    var steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
    for (var i = 0; i < steps.length; i++) if (steps[i] >= want) return steps[i];
    return steps[steps.length - 1];
  }
  var selPlugin = {
    id: "cicadaSelection",
    /* no tooltips or hover while a zoom range is being dragged */
    beforeEvent: function (chart) { return !chart.$sel; },
    afterDraw: function (chart) {
      var s = chart.$sel;
      if (!s) return;
      var a = chart.chartArea, ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = "rgba(47,163,107,.15)";
      ctx.strokeStyle = "rgba(47,163,107,.8)";
      var x0 = Math.max(a.left, Math.min(s.x0, s.x1)), x1 = Math.min(a.right, Math.max(s.x0, s.x1));
      ctx.fillRect(x0, a.top, x1 - x0, a.bottom - a.top);
      ctx.strokeRect(x0, a.top, x1 - x0, a.bottom - a.top);
      ctx.restore();
    }
  };
  var Y_AXIS_WIDTH = 58;
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888"; }
  /* Theme colours into the charts (after a theme change). */
  function themeCharts() {
    if (typeof Chart === "undefined") return;
    Chart.defaults.color = cssVar("--muted");
    charts.forEach(function (c) {
      c.options.scales.x.grid.color = c.options.scales.y.grid.color = cssVar("--chart-grid");
      c.options.scales.x.ticks.color = c.options.scales.y.ticks.color = cssVar("--muted");
      c.options.plugins.legend.labels.color = cssVar("--muted");
      c.update("none");
    });
  }
  function makeChart(canvas, datasets, fmt) {
    var chart = new Chart(canvas, {
      type: "line",
      data: { datasets: datasets },
      plugins: [selPlugin],
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        spanGaps: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        elements: { point: { radius: 0, hitRadius: 4, hoverRadius: 3 }, line: { borderWidth: 1.6, tension: 0 } },
        plugins: {
          decimation: { enabled: true, algorithm: "min-max" },
          legend: { position: "bottom", labels: { boxWidth: 12, filter: function (item, data) { return !data.datasets[item.datasetIndex].hidden; } } },
          tooltip: {
            callbacks: {
              title: function (items) { return items.length ? hms(items[0].parsed.x) : ""; },
              label: function (it) { return it.dataset.label + ": " + (it.parsed.y == null ? "–" : (fmt || fmtMs)(it.parsed.y)); }
            }
          }
        },
        scales: {
          x: {
            type: "linear",
            bounds: "data",
            ticks: { maxRotation: 0, autoSkip: false, callback: function (v) { return hms(v); } },
            afterBuildTicks: function (axis) {
              var min = axis.min, max = axis.max;
              if (!(max > min)) return;
              var step = niceStep(max - min, axis.width || 600), ticks = [];
              for (var v = Math.ceil(min / step) * step; v <= max; v += step) ticks.push({ value: v });
              axis.ticks = ticks;
            },
            grid: { color: cssVar("--chart-grid") }
          },
          /* one fixed width for every chart's y-axis, so that the plot
           * areas, and so the x-axes, line up whatever the labels */
          y: { beginAtZero: true, afterFit: function (axis) { axis.width = Y_AXIS_WIDTH; }, grid: { color: cssVar("--chart-grid") } }
        }
      }
    });
    attachZoom(chart);
    charts.push(chart);
    return chart;
  }
  function attachZoom(chart) {
    var c = chart.canvas;
    c.addEventListener("mousedown", function (e) {
      if (e.button !== 0 || hist.t.length < 2) return;
      var a = chart.chartArea;
      if (e.offsetX < a.left || e.offsetX > a.right) return;
      chart.$sel = { x0: e.offsetX, x1: e.offsetX };
      e.preventDefault();
    });
    c.addEventListener("mousemove", function (e) {
      if (!chart.$sel) return;
      chart.$sel.x1 = e.offsetX;
      chart.draw();
    });
    function finish(e) {
      var s = chart.$sel;
      if (!s) return;
      chart.$sel = null;
      if (e && e.type === "mouseup") s.x1 = e.offsetX;
      var lo = Math.min(s.x0, s.x1), hi = Math.max(s.x0, s.x1);
      if (hi - lo >= 5) {
        var sc = chart.scales.x;
        var min = sc.getValueForPixel(lo), max = sc.getValueForPixel(hi);
        if (max - min >= 2) { setZoom({ min: min, max: max }); return; }
      }
      chart.draw();
    }
    c.addEventListener("mouseup", finish);
    c.addEventListener("mouseleave", finish);
    c.addEventListener("dblclick", function () { setZoom(null); });
  }
  function setZoom(z) {
    zoom = z;
    $("reset-zoom").disabled = !z;
    updateCharts();
  }
  function updateCharts() {
    if (!charts.length || !ui.visible()) return;
    var n = hist.t.length;
    var min = zoom ? zoom.min : n ? hist.t[0] : undefined;
    var max = zoom ? zoom.max : n ? hist.t[n - 1] : undefined;
    if (min === max && min !== undefined) { min -= 30; }
    charts.forEach(function (c) {
      c.options.scales.x.min = min;
      c.options.scales.x.max = max;
      c.update("none");
    });
  }
  function initCharts() {
    if (typeof Chart === "undefined") return;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.font.size = 11.5;
    Chart.defaults.color = cssVar("--muted");
    function ds(label, data, color, hidden) {
      return { label: label, data: data, borderColor: color, backgroundColor: color, hidden: !!hidden, fill: false };
    }
    makeChart($("chart-rps"), [ds("RPS", hist.rps, "#2fa36b"), ds("Failures/s", hist.fail, "#d64545")]);
    var picked = { "50": true, "95": true };
    try { picked = JSON.parse(localStorage.getItem("cicada.pcts")) || picked; } catch (e) { /* default */ }
    makeChart($("chart-response"), PCTS.map(function (p) {
      return ds(p === "50" ? "Median (50%)" : p + "%", hist.pct[p], PCT_COLORS[p], !picked[p]);
    }));
    makeChart($("chart-users"), [ds("Users", hist.users, "#3949ab")]);

    var box = $("pct-picker");
    box.innerHTML = PCTS.map(function (p) {
      return '<label><input type="checkbox" id="pct-' + p.replace(".", "_") + '" data-pct="' + p + '"' + (picked[p] ? " checked" : "") +
        '><span class="swatch" style="background:' + PCT_COLORS[p] + '"></span>' + p + "%</label>";
    }).join("");
    box.addEventListener("change", function (e) {
      var p = e.target.getAttribute("data-pct");
      if (!p) return;
      var rc = charts[1], i = PCTS.indexOf(p);
      rc.data.datasets[i].hidden = !e.target.checked;
      var sel = {};
      PCTS.forEach(function (q, j) { if (!rc.data.datasets[j].hidden) sel[q] = true; });
      try { localStorage.setItem("cicada.pcts", JSON.stringify(sel)); } catch (err) { /* private mode */ }
      rc.update("none");
    });
    $("reset-zoom").addEventListener("click", function () { setZoom(null); });
  }
  function seedHistory() {
    return getJSON("./stats/history").then(function (points) {
      (points || []).forEach(function (p) {
        pushPoint(Math.floor(p.time), p.rps, p.fail_per_sec, p.users, p.percentiles ||
          { "50": p.p50 != null ? p.p50 : p.current_response_time_percentile_50, "95": p.p95 != null ? p.p95 : p.current_response_time_percentile_95 });
      });
      gapPending = hist.t.length > 0;
      updateCharts();
    }).catch(function () {});
  }

  return {
    init: initCharts, seed: seedHistory, add: addMessagePoint, update: updateCharts, retheme: themeCharts,
    /* a new run: break the lines */
    gap: function (t) { if (hist.t.length) pushGap(t); },
    points: function () { return hist.t.length; },
    make: function (canvas, datasets, fmt) {
      if (typeof Chart === "undefined") return null;
      var c = makeChart(canvas, datasets, fmt);
      updateCharts();
      return c;
    }
  };
};
