/* html_monitor: see html_monitor.h. The document embedded is
 * monitor_json's (the same as GET /stats/monitor); the script below draws
 * one line per target (and per worker in the CPU chart), with the x-axis
 * limited to the request history's span when there is one (the
 * window.cicadaHistory the report already holds), so both groups of
 * charts line up. */
#include "report/html_monitor.h"

#include <math.h>
#include <stdlib.h>

#include "report/json.h"

static const char draw[] =
    "(function(){\n"
    "var M=window.cicadaMonitor,H=window.cicadaHistory||[];\n"
    "if(!M||typeof Chart==='undefined')return;\n"
    "var C=['#1e88e5','#e53935','#43a047','#fb8c00','#8e24aa','#00897b','#6d4c41','#3949ab'];\n"
    "function two(n){return n<10?'0'+n:''+n}\n"
    "function hms(t){var d=new Date(t*1000);return two(d.getUTCHours())+':'+two(d.getUTCMinutes())"
    "+':'+two(d.getUTCSeconds())}\n"
    "var lo=H.length?H[0].time:undefined,hi=H.length?H[H.length-1].time:undefined;\n"
    "function line(label,pts,k,color,dash){return{label:label,data:pts.map(function(p){"
    "return{x:p[0],y:p[k]}}),borderColor:color,backgroundColor:color,fill:false,"
    "borderDash:dash?[5,3]:undefined}}\n"
    "function chart(id,sets,max){var c=document.getElementById(id);if(!c)return;"
    "new Chart(c,{type:'line',data:{datasets:sets},options:{animation:false,parsing:false,"
    "maintainAspectRatio:false,spanGaps:false,interaction:{mode:'nearest',axis:'x',intersect:false}"
    ","
    "elements:{point:{radius:0,hitRadius:4},line:{borderWidth:1.6}},plugins:{legend:{position:"
    "'bottom'},tooltip:{callbacks:{title:function(i){return i.length?hms(i[0].parsed.x)+' "
    "UTC':''}}}},"
    "scales:{x:{type:'linear',min:lo,max:hi,ticks:{maxRotation:0,callback:function(v){return "
    "hms(v)}}},"
    "y:{beginAtZero:true,suggestedMax:max}}}})}\n"
    "var cpu=[],mem=[],io=[];\n"
    "(M.targets||[]).forEach(function(t,i){var c=C[i%C.length],p=t.points||[];"
    "cpu.push(line(t.name,p,1,c));mem.push(line(t.name,p,4,c));"
    "io.push(line(t.name+' net rx',p,5,c),line(t.name+' net tx',p,6,c,1),"
    "line(t.name+' disk read',p,7,c),line(t.name+' disk write',p,8,c,1))});\n"
    "var wm=[];(M.workers||[]).forEach(function(w,i){var c=C[((M.targets||[]).length+i)%C.length];"
    "cpu.push(line('worker '+w.id,w.points||[],1,c,1));wm.push(line('worker "
    "'+w.id,w.points||[],2,c,1))});\n"
    "chart('chart-mon-cpu',cpu,100);chart('chart-mon-mem',mem,100);chart('chart-mon-io',io);"
    "chart('chart-mon-wmem',wm);\n"
    "})();\n";

static bool has_workers(monitor_t *m)
{
    cJSON *j = monitor_json(m, true);
    bool any = cJSON_GetArraySize(cJSON_GetObjectItem(j, "workers")) > 0;
    cJSON_Delete(j);
    return any;
}

static bool anything(monitor_t *m)
{
    cJSON *j = monitor_json(m, true);
    bool any = cJSON_GetArraySize(cJSON_GetObjectItem(j, "targets")) > 0 ||
               cJSON_GetArraySize(cJSON_GetObjectItem(j, "workers")) > 0;
    cJSON_Delete(j);
    return any;
}

void html_monitor_section(FILE *f, monitor_t *m)
{
    if (m == NULL || !anything(m)) return;
    fputs("<h2>Target resources</h2>\n", f);
    static const char *const c[][2] = {{"chart-mon-cpu", "CPU busy (%)"},
                                       {"chart-mon-mem", "Memory used (%)"},
                                       {"chart-mon-io", "Network and disk (bytes/s)"}};
    for (size_t i = 0; i < 3; i++)
        fprintf(f,
                "<div class=\"chart\"><h3>%s</h3><div class=\"cbox\"><canvas id=\"%s\">"
                "</canvas></div></div>\n",
                c[i][1], c[i][0]);
    if (has_workers(m))
        fputs("<div class=\"chart\"><h3>Workers' memory (RSS bytes)</h3><div class=\"cbox\">"
              "<canvas id=\"chart-mon-wmem\"></canvas></div></div>\n",
              f);
}

void html_monitor_script(FILE *f, monitor_t *m)
{
    if (m == NULL || !anything(m)) return;
    char *s = json_print(monitor_json(m, false), false);
    fputs("window.cicadaMonitor = ", f);
    for (const char *p = s; *p; p++) /* '<' only in strings: \u003c means the same */
        if (*p == '<')
            fputs("\\u003c", f);
        else
            fputc(*p, f);
    fputs(";\n", f);
    free(s); /* cJSON's */
    fputs(draw, f);
}
