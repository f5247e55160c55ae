/* cicada web UI: the class picker, the theme and the Logs tab (app.js
 * builds the rest of the page).
 *
 * - Class picker (--class-picker): rows from ./user_classes, one per class
 *   with a check box, a weight and a fixed count; fields() adds them to a
 *   /swarm form as user_classes (repeated), weight.<Class> and
 *   fixed_count.<Class>, or returns null when no class is checked.
 * - Theme: data-theme="dark" or "light" on <html>, from
 *   prefers-color-scheme until the toggle picks one; the pick is kept in
 *   localStorage and forgotten when it equals the system's, so that the
 *   page follows the system again. ui.retheme() runs after each change.
 * - Logs: each pushed message carries the lines of the last seconds
 *   ({seq, time, line}); those not seen yet are appended, a gap before
 *   them is filled from ./logs, and at most MAX_LOG_LINES are kept.
 *
 * window.cicadaExtras(ui) takes $, esc, getJSON, retheme() and shown(tab)
 * and returns {loadClasses, fields, initTheme, onLogs, renderLogs}.
 */
window.cicadaExtras = function (ui) {
  "use strict";

  var $ = ui.$, esc = ui.esc, getJSON = ui.getJSON;

  /* ---- class picker (--class-picker) ---- */
  var picker = null; /* the classes from ./user_classes, or null when off */
  function loadClasses() {
    return getJSON("./user_classes").then(function (j) {
      if (!j.class_picker) return;
      picker = j.user_classes || [];
      $("class-picker").hidden = false;
      /* a class's host only when the classes differ (-H gives them all one) */
      var hosts = picker.some(function (c) { return c.host !== picker[0].host; });
      $("class-picker").querySelector("tbody").innerHTML = picker.map(function (c, i) {
        var n = esc(c.name);
        return '<tr data-class="' + n + '"><td><input type="checkbox" id="uc-' + i + '" class="pick" data-testid="class-' + n + '"' +
          (c.selected ? " checked" : "") + '></td><td><label for="uc-' + i + '">' + n + "</label>" +
          (hosts && c.host ? ' <span class="note">' + esc(c.host) + "</span>" : "") + '</td><td class="num"><input type="number" min="0" step="any" class="weight" value="' +
          esc(c.weight) + '" data-testid="weight-' + n + '" aria-label="Weight of ' + n + '"></td><td class="num"><input type="number" min="0" step="1" class="fixed" value="' +
          esc(c.fixed_count) + '" data-testid="fixed-' + n + '" aria-label="Fixed count of ' + n + '"></td></tr>';
      }).join("");
    }).catch(function () {});
  }
  /* The picker's fields for ./swarm, or null when nothing is chosen. */
  function pickerFields(fields) {
    if (!picker) return fields;
    var chosen = [];
    Array.prototype.forEach.call($("class-picker").querySelectorAll("tbody tr"), function (tr, i) {
      var name = picker[i].name;
      if (tr.querySelector(".pick").checked) chosen.push(name);
      fields["weight." + name] = tr.querySelector(".weight").value;
      fields["fixed_count." + name] = tr.querySelector(".fixed").value;
    });
    if (!chosen.length) return null;
    fields.user_classes = chosen;
    return fields;
  }

  /* ---- theme ---- */
  function systemDark() { return !!(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches); }
  function storedTheme() { try { return localStorage.getItem("cicada.theme"); } catch (e) { return null; } }
  function applyTheme() {
    var t = storedTheme(), dark = t ? t === "dark" : systemDark();
    document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
    $("theme-toggle").title = "Theme: " + (dark ? "dark" : "light") + (t ? " (click: " + (dark ? "light" : "dark") + ")" : " (follows the system)");
    ui.retheme();
  }
  function initTheme() {
    applyTheme();
    $("theme-toggle").addEventListener("click", function () {
      var dark = document.documentElement.getAttribute("data-theme") !== "dark";
      /* back to the system's choice when the toggle lands on it */
      try {
        if (dark === systemDark()) localStorage.removeItem("cicada.theme");
        else localStorage.setItem("cicada.theme", dark ? "dark" : "light");
      } catch (e) { /* private mode: this page only */ }
      document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
      if (storedTheme() !== null || dark === systemDark()) applyTheme();
      else ui.retheme();
    });
    if (window.matchMedia) {
      var mq = window.matchMedia("(prefers-color-scheme: dark)");
      if (mq.addEventListener) mq.addEventListener("change", applyTheme);
    }
  }

  /* ---- logs ---- */
  var MAX_LOG_LINES = 1000;
  var logs = [], lastLogSeq = 0, fetchingLogs = false;
  function addLogs(list) {
    list.forEach(function (l) {
      if (l.seq > lastLogSeq) { logs.push(l); lastLogSeq = l.seq; }
    });
    if (logs.length > MAX_LOG_LINES) logs.splice(0, logs.length - MAX_LOG_LINES);
  }
  function fetchLogs() {
    fetchingLogs = true;
    return getJSON("./logs").then(function (j) { addLogs(j.logs || []); renderLogs(); })
      .catch(function () {}).then(function () { fetchingLogs = false; });
  }
  /* A message's lines: those of the last seconds; a gap before them (a
   * page opened late, a reconnect) is filled from ./logs. */
  function onLogs(list) {
    if (!list || !list.length || fetchingLogs) return;
    if (list[0].seq > lastLogSeq + 1) { fetchLogs(); return; }
    addLogs(list);
  }
  var LEVEL = /\/(DEBUG|WARNING|ERROR|CRITICAL)\//;
  function renderLogs() {
    if (!ui.shown("logs")) return;
    var pre = $("log-lines");
    var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.innerHTML = logs.map(function (l) {
      var m = LEVEL.exec(l.line);
      return "<span" + (m ? ' class="lvl-' + m[1].toLowerCase() + '"' : "") + ">" + esc(l.line) + "</span>";
    }).join("\n");
    $("logs-empty").hidden = logs.length > 0;
    $("log-lines").parentNode.hidden = logs.length === 0;
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  return { loadClasses: loadClasses, fields: pickerFields, initTheme: initTheme, onLogs: onLogs, renderLogs: renderLogs };
};
