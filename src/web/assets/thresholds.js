/* cicada web UI: the thresholds panel at the top of the Statistics tab.
 *
 * Each pushed /stats/requests document of a run with thresholds carries
 * "thresholds": [{rule, value, ok, abort, ...}] (docs/cli.md,
 * "Thresholds"), evaluated by the runner every second over the whole
 * run's figures (a master's: all workers merged). Each rule is one chip,
 * green while it passes, red once it fails, with its current value; the
 * panel stays hidden for runs without thresholds.
 *
 * window.cicadaThresholds(ui) takes $ and esc and returns {render(list)}.
 */
window.cicadaThresholds = function (ui) {
  "use strict";

  var $ = ui.$, esc = ui.esc;

  function value(t) {
    if (t.value == null) return "no request";
    var v = t.value;
    if (t.metric === "fail_ratio") return v.toFixed(4);
    if (t.metric === "rps" || t.metric === "fail_rps") return v.toFixed(2) + "/s";
    if (/^(requests|failures|dropped|late)$/.test(t.metric)) return String(Math.round(v));
    return (v >= 100 ? Math.round(v) : v.toFixed(1)) + " ms";
  }

  function render(list) {
    var box = $("thresholds");
    if (!box) return;
    if (!list || !list.length) { box.hidden = true; return; }
    var html = new Array(list.length);
    for (var i = 0; i < list.length; i++) {
      var t = list[i], cls = t.ok ? "pass" : "fail";
      html[i] = '<span class="rule ' + cls + '" data-rule="' + esc(t.rule) + '" data-ok="' + t.ok +
        '" title="' + (t.ok ? "passes" : "fails") + (t.abort ? " (aborts the run)" : "") + '">' +
        '<span class="dot"></span><code>' + esc(t.rule) + "</code> " + esc(value(t)) + "</span>";
    }
    box.innerHTML = '<span class="label">Thresholds</span>' + html.join("");
    box.hidden = false;
  }

  return { render: render };
};
