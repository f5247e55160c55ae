/* assets: the web UI's files, compiled into the binary at build time.
 *
 * The Makefile turns every file under src/web/assets/ plus Chart.js from
 * Debian's libjs-chart.js (/usr/share/javascript/chart.js/chart.min.js,
 * served as "/chart.min.js") into build/assets.c, so ./cicada needs nothing
 * on disk to serve its UI or to write a self-contained HTML report. */
#ifndef CICADA_ASSETS_H
#define CICADA_ASSETS_H

#include <stddef.h>

typedef struct asset {
    const char *path; /* "/index.html", "/app.js", "/chart.min.js", ... */
    const char *mime; /* "text/html; charset=utf-8", ... */
    const unsigned char *data;
    size_t len;
} asset_t;

/* The asset at path, or NULL. */
const asset_t *asset_find(const char *path);

#endif
