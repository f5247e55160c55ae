/* html: see html.h. The tables are written here as HTML, so they read
 * without JavaScript; the charts and the ratio tree are drawn in the
 * browser from two inline JSON documents (json_history_of and
 * json_tasks_of, the same shapes as the web API's /stats/history and
 * /tasks) by a small script kept below as a C string. */
#include "report/html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/html_monitor.h"
#include "report/json.h"

/* The report's percentile columns: Locust's report set, not its CSV set. */
static const double pcts[] = {0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0};
static const char *const pct_names[] = {"50%ile", "60%ile", "70%ile", "80%ile",
                                        "90%ile", "95%ile", "99%ile", "100%ile"};

static const char style[] =
    "body{margin:0;background:#f4f6f8;color:#1d2430;font:14px system-ui,-apple-system,'Segoe UI',"
    "Roboto,Arial,sans-serif}\n"
    ".wrap{max-width:1240px;margin:0 auto;padding:24px 28px 48px}\n"
    "h1{margin:0 0 12px;font-size:24px}h2{margin:30px 0 10px;font-size:17px}\n"
    ".info{background:#16202c;color:#e8edf3;border-radius:8px;padding:14px 20px;display:flex;"
    "flex-wrap:wrap;gap:10px 40px}\n"
    ".info div{display:flex;flex-direction:column}.info "
    "b{font-size:10.5px;text-transform:uppercase;"
    "letter-spacing:1px;color:#8d9bab;font-weight:600}.info span{font-size:15px;margin-top:2px;"
    "word-break:break-all}\n"
    ".info a{color:#7fe0a9}\n"
    ".box{background:#fff;border:1px solid #e3e7ec;border-radius:8px;overflow-x:auto}\n"
    "table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}\n"
    "th,td{padding:7px 10px;text-align:left;border-bottom:1px solid #e3e7ec;vertical-align:top}\n"
    "th{font-size:12px;color:#6b7686;background:#fafbfc;white-space:nowrap}\n"
    "td.n,th.n{text-align:right}td.name{word-break:break-all}\n"
    "tr.total td{font-weight:700;background:#f7f9fa}\n"
    "pre{margin:0;font-size:12px;white-space:pre-wrap}\n"
    ".empty{color:#6b7686;padding:14px 18px;margin:0}\n"
    "td.pass{color:#1b7f46;font-weight:700}td.fail{color:#c0392b;font-weight:700}\n"
    ".chart{background:#fff;border:1px solid #e3e7ec;border-radius:8px;padding:12px 16px;"
    "margin-bottom:14px}.chart h3{margin:0 0 "
    "6px;font-size:14px}.cbox{position:relative;height:260px}\n"
    ".ratio{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:14px}\n"
    ".ratio section{background:#fff;border:1px solid #e3e7ec;border-radius:8px;padding:10px 18px}\n"
    ".ratio h3{font-size:14px;margin:6px 0}.ratio ul{list-style:none;margin:0;padding-left:16px}\n"
    ".ratio section>ul{padding-left:0}.ratio li{margin:4px 0}.ratio .p{display:inline-block;"
    "min-width:64px;font-weight:600;color:#238554}\n";

/* Draws the charts from `history` and the ratio tree from `tasks`. */
static const char script[] =
    "(function(){\n"
    "function two(n){return n<10?'0'+n:''+n}\n"
    "function hms(t){var d=new Date(t*1000);return two(d.getUTCHours())+':'+two(d.getUTCMinutes())"
    "+':'+two(d.getUTCSeconds())}\n"
    "function esc(s){return "
    "String(s).replace(/[&<>\"']/g,function(c){return{'&':'&amp;','<':'&lt;',"
    "'>':'&gt;','\"':'&quot;',\"'\":'&#39;'}[c]})}\n"
    "var H=window.cicadaHistory||[],T=window.cicadaTasks||{};\n"
    "function tree(t){var k=Object.keys(t||{}).sort(function(a,b){return t[b].ratio-t[a].ratio});"
    "if(!k.length)return'';return'<ul>'+k.map(function(n){return'<li><span class=\"p\">'+"
    "(t[n].ratio*100).toFixed(1)+'%</span>'+esc(n)+tree(t[n].tasks)+'</li>'}).join('')+'</ul>'}\n"
    "var r=document.getElementById('ratio');\n"
    "if(r)r.innerHTML=[['per_class','Ratio per user class'],['total','Total "
    "ratio']].map(function(p){"
    "return'<section><h3>'+p[1]+'</h3>'+(tree(T[p[0]])||'<p class=\"empty\">No user classes.</p>')"
    "+'</section>'}).join('');\n"
    "if(!H.length||typeof Chart==='undefined')return;\n"
    "function pts(f){return H.map(function(p){var "
    "v=f(p);return{x:p.time,y:v==null||v<0?null:v}})}\n"
    "function pc(k){return function(p){return p.percentiles?p.percentiles[k]:null}}\n"
    "var steps=[1,2,5,10,15,30,60,120,300,600,900,1800,3600,7200,10800,21600,43200,86400];\n"
    "function chart(id,sets){var c=document.getElementById(id);new Chart(c,{type:'line',"
    "data:{datasets:sets.map(function(s){return{label:s[0],data:s[1],borderColor:s[2],"
    "backgroundColor:s[2],fill:false}})},options:{animation:false,parsing:false,normalized:true,"
    "maintainAspectRatio:false,interaction:{mode:'nearest',axis:'x',intersect:false},"
    "elements:{point:{radius:0,hitRadius:4},line:{borderWidth:1.6}},plugins:{decimation:"
    "{enabled:true,algorithm:'min-max'},legend:{position:'bottom'},tooltip:{callbacks:{title:"
    "function(i){return i.length?hms(i[0].parsed.x)+' UTC':''}}}},scales:{x:{type:'linear',"
    "bounds:'data',ticks:{maxRotation:0,autoSkip:false,callback:function(v){return hms(v)}},"
    "afterBuildTicks:function(a){var lo=a.min,hi=a.max;if(!(hi>lo))return;var want=(hi-lo)/"
    "Math.max(2,(a.width||600)/90),s=steps[steps.length-1];for(var i=0;i<steps.length;i++)"
    "if(steps[i]>=want){s=steps[i];break}var t=[];for(var v=Math.ceil(lo/s)*s;v<=hi;v+=s)"
    "t.push({value:v});a.ticks=t}},y:{beginAtZero:true}}}})}\n"
    "chart('chart-rps',[['RPS',pts(function(p){return p.rps}),'#2fa36b'],"
    "['Failures/s',pts(function(p){return p.fail_per_sec}),'#d64545']]);\n"
    "chart('chart-response',[['Median (50%)',pts(pc('50')),'#2fa36b'],"
    "['95%',pts(pc('95')),'#e53935']]);\n"
    "chart('chart-users',[['Users',pts(function(p){return p.users}),'#3949ab']]);\n"
    "})();\n";

/* s with & < > " ' as entities. */
static void put_esc(FILE *f, const char *s)
{
    if (s == NULL) return;
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A cJSON tree inside <script>: '<' only occurs in JSON strings, where
 * \u003c means the same, so no "</script>" or "<!--" can appear. Deletes j. */
static void put_json(FILE *f, cJSON *j)
{
    char *s = json_print(j, false);
    for (const char *p = s; *p; p++) {
        if (*p == '<')
            fputs("\\u003c", f);
        else
            fputc(*p, f);
    }
    free(s); /* cJSON's allocation, see json_print */
}

static void put_utc(FILE *f, double t)
{
    char b[32];
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &tm);
    fputs(b, f);
}

/* A time in ms. Locust's report prints whole ms (int() or rounded); cicada
 * measures in microseconds and targets answer in less than 1 ms, so below
 * 100 ms up to two decimals are kept ("0.04", "12.5", "100"). */
static void td_ms(FILE *f, double v)
{
    char b[32];
    if (!isfinite(v)) v = 0;
    if (v >= 100 || v == floor(v))
        snprintf(b, sizeof b, "%.0f", floor(v + 0.5));
    else {
        snprintf(b, sizeof b, "%.2f", v);
        char *e = b + strlen(b) - 1;
        while (*e == '0')
            *e-- = '\0';
        if (*e == '.') *e = '\0';
    }
    fprintf(f, "<td class=\"n\">%s</td>", b);
}

static void request_row(FILE *f, stats_t *st, const stats_entry_t *e, bool total)
{
    fputs(total ? "<tr class=\"total\"><td>" : "<tr><td>", f);
    put_esc(f, e->method);
    fputs("</td><td class=\"name\">", f);
    put_esc(f, e->name);
    fprintf(f, "</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>",
            (unsigned long long)e->num_requests, (unsigned long long)e->num_failures);
    td_ms(f, stats_avg(e));
    td_ms(f, stats_min(e));
    td_ms(f, e->num_requests > e->num_none_requests ? e->max_response_time_ms : 0);
    fprintf(f, "<td class=\"n\">%lld</td>", (long long)stats_avg_content(e));
    fprintf(f, "<td class=\"n\">%.1f</td><td class=\"n\">%.1f</td></tr>\n", stats_total_rps(st, e),
            stats_total_fail_per_sec(st, e));
}

static void percentile_row(FILE *f, const stats_entry_t *e, bool total)
{
    fputs(total ? "<tr class=\"total\"><td>" : "<tr><td>", f);
    put_esc(f, e->method);
    fputs("</td><td class=\"name\">", f);
    put_esc(f, e->name);
    fputs("</td>", f);
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
        td_ms(f, stats_percentile(e, pcts[i]));
    fputs("</tr>\n", f);
}

static void requests_tables(FILE *f, stats_t *st)
{
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    stats_entry_t *t = stats_total(st);

    fputs(
        "<h2>Request Statistics</h2>\n<div class=\"box\"><table id=\"request-stats\">\n"
        "<thead><tr><th>Method</th><th>Name</th><th class=\"n\"># Requests</th>"
        "<th class=\"n\"># Fails</th><th class=\"n\">Average (ms)</th><th class=\"n\">Min (ms)</th>"
        "<th class=\"n\">Max (ms)</th><th class=\"n\">Average size (bytes)</th>"
        "<th class=\"n\">RPS</th><th class=\"n\">Failures/s</th></tr></thead>\n<tbody>\n",
        f);
    for (size_t i = 0; i < n; i++)
        request_row(f, st, es[i], false);
    request_row(f, st, t, true);
    fputs("</tbody></table></div>\n", f);

    fputs("<h2>Response Time Statistics</h2>\n<div class=\"box\"><table id=\"response-times\">\n"
          "<thead><tr><th>Method</th><th>Name</th>",
          f);
    for (size_t i = 0; i < sizeof pct_names / sizeof pct_names[0]; i++)
        fprintf(f, "<th class=\"n\">%s (ms)</th>", pct_names[i]);
    fputs("</tr></thead>\n<tbody>\n", f);
    for (size_t i = 0; i < n; i++)
        percentile_row(f, es[i], false);
    percentile_row(f, t, true);
    fputs("</tbody></table></div>\n", f);
}

static void failures_table(FILE *f, stats_t *st)
{
    size_t n;
    stats_error_t **es = stats_errors(st, &n);
    fputs("<h2>Failures Statistics</h2>\n<div class=\"box\">", f);
    if (n == 0) {
        fputs("<p class=\"empty\">No failures.</p></div>\n", f);
        return;
    }
    fputs("<table id=\"failures\">\n<thead><tr><th>Method</th><th>Name</th><th>Error</th>"
          "<th class=\"n\">Occurrences</th></tr></thead>\n<tbody>\n",
          f);
    for (size_t i = 0; i < n; i++) {
        fputs("<tr><td>", f);
        put_esc(f, es[i]->method);
        fputs("</td><td class=\"name\">", f);
        put_esc(f, es[i]->name);
        fputs("</td><td>", f);
        put_esc(f, es[i]->error);
        fprintf(f, "</td><td class=\"n\">%llu</td></tr>\n", (unsigned long long)es[i]->occurrences);
    }
    fputs("</tbody></table></div>\n", f);
}

/* The thresholds with their final values and verdicts (only when the run
 * has some); a value is in the rule's unit, "no request" when none was
 * timed. */
static void thresholds_table(FILE *f, const report_run_t *in)
{
    if (in->nthresholds == 0) return;
    fputs("<h2>Thresholds</h2>\n<div class=\"box\"><table id=\"thresholds\">\n"
          "<thead><tr><th>Rule</th><th>Source</th><th class=\"n\">Value</th><th>Verdict</th>"
          "</tr></thead>\n<tbody>\n",
          f);
    for (size_t i = 0; i < in->nthresholds; i++) {
        const threshold_t *t = &in->thresholds[i];
        fputs("<tr><td class=\"name\">", f);
        put_esc(f, t->expr);
        fprintf(f, "</td><td>%s%s</td>", t->scenario ? "scenario" : "command line",
                t->abort ? " (abort)" : "");
        if (t->has_value)
            fprintf(f, "<td class=\"n\">%.6g</td>", t->value);
        else
            fputs("<td class=\"n\">no request</td>", f);
        fprintf(f, "<td class=\"%s\">%s</td></tr>\n", t->ok ? "pass" : "fail",
                t->ok ? "pass" : "FAIL");
    }
    fputs("</tbody></table></div>\n", f);
}

static void exceptions_table(FILE *f, stats_t *st)
{
    size_t n;
    stats_exception_t **xs = stats_exceptions(st, &n);
    fputs("<h2>Exceptions Statistics</h2>\n<div class=\"box\">", f);
    if (n == 0) {
        fputs("<p class=\"empty\">No exceptions.</p></div>\n", f);
        return;
    }
    fputs("<table id=\"exceptions\">\n<thead><tr><th class=\"n\">Count</th><th>Message</th>"
          "<th>Traceback</th><th>Nodes</th></tr></thead>\n<tbody>\n",
          f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "<tr><td class=\"n\">%llu</td><td>", (unsigned long long)xs[i]->count);
        put_esc(f, xs[i]->msg);
        fputs("</td><td><pre>", f);
        put_esc(f, xs[i]->traceback);
        fputs("</pre></td><td>", f);
        put_esc(f, xs[i]->nodes);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
}

static void charts(FILE *f, size_t nhist)
{
    fputs("<h2>Charts</h2>\n", f);
    if (nhist == 0) {
        fputs("<div class=\"box\"><p class=\"empty\">No history recorded.</p></div>\n", f);
        return;
    }
    static const char *const c[][2] = {{"chart-rps", "Total requests per second"},
                                       {"chart-response", "Response times (ms)"},
                                       {"chart-users", "Number of users"}};
    for (size_t i = 0; i < 3; i++)
        fprintf(f,
                "<div class=\"chart\"><h3>%s</h3><div class=\"cbox\"><canvas id=\"%s\">"
                "</canvas></div></div>\n",
                c[i][1], c[i][0]);
}

void html_report(FILE *f, const report_run_t *in, const html_page_t *page)
{
    stats_t *st = in->st;
    double start = stats_start_time(st), end = stats_total(st)->last_request_ts;

    fputs("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>cicada Test Report</title>\n<style>\n",
          f);
    fputs(style, f);
    fputs("</style>\n</head>\n<body>\n<div class=\"wrap\">\n<h1>cicada Test Report</h1>\n"
          "<div class=\"info\">\n<div><b>During</b><span id=\"period\">",
          f);
    put_utc(f, start);
    fputs(" – ", f);
    put_utc(f, end > 0 ? end : start);
    fputs(" (UTC)</span></div>\n<div><b>Target host</b><span id=\"target-host\">", f);
    put_esc(f, in->host && in->host[0] ? in->host : "None");
    fputs("</span></div>\n<div><b>Script</b><span id=\"script\">", f);
    put_esc(f, in->script);
    fputs("</span></div>\n", f);
    if (page->download_link)
        fputs("<div><b>&nbsp;</b><span><a href=\"?download=1\">Download the "
              "Report</a></span></div>\n",
              f);
    fputs("</div>\n", f);

    requests_tables(f, st);
    thresholds_table(f, in);
    failures_table(f, st);
    exceptions_table(f, st);
    charts(f, in->nhist);
    html_monitor_section(f, monitor_current());
    fputs("<h2>Final ratio</h2>\n<div id=\"ratio\" class=\"ratio\"></div>\n</div>\n", f);

    /* Chart.js, inline; it holds no "</script" (checked by the unit test) */
    if (page->chartjs != NULL) {
        fputs("<script>\n", f);
        fwrite(page->chartjs, 1, page->chartjs_len, f);
        fputs("\n</script>\n", f);
    }
    fputs("<script>\nwindow.cicadaHistory = ", f);
    put_json(f, json_history_of(in->hist, in->nhist));
    fputs(";\nwindow.cicadaTasks = ", f);
    put_json(f, json_tasks_of(in->cls, in->ncls));
    fputs(";\n", f);
    fputs(script, f);
    html_monitor_script(f, monitor_current());
    fputs("</script>\n</body>\n</html>\n", f);
}
