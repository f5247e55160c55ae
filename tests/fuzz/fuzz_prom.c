/* fuzz_prom: libFuzzer target for monitor/prom.c and monitor/node.c.
 *
 * The input is parsed as a Prometheus text page from an exact-size copy
 * (ASan catches a read past len). Invariants besides "no crash, no
 * sanitizer report":
 *  - on success the count equals the callbacks made; every sample's name
 *    and label text lie inside the input, the name is a valid metric name,
 *    and prom_label finds every label named in the text with a result
 *    that fits its buffer (or -2 when it does not);
 *  - on failure the line is within the input's lines and a reason is given;
 *  - node_read of the same input never fails where prom_parse succeeded
 *    unless it says there were no node_exporter figures, and node_figures
 *    of it against itself gives no negative rate and no CPU above 100 %.
 *
 * Build: make fuzz. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/node.h"
#include "monitor/prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "must.h"

struct ctx {
    const char *buf;
    size_t len;
    long calls;
};

static void on_sample(void *ud, const prom_sample_t *s)
{
    struct ctx *c = ud;
    c->calls++;
    MUST(s->name >= c->buf && s->name + s->name_len <= c->buf + c->len && s->name_len > 0);
    MUST(s->labels_len == 0 ||
         (s->labels >= c->buf && s->labels + s->labels_len <= c->buf + c->len));
    for (size_t i = 0; i < s->name_len; i++) {
        char ch = s->name[i];
        MUST(ch == '_' || ch == ':' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
             (i > 0 && ch >= '0' && ch <= '9'));
    }
    char v[8], key[64];
    /* the first label's name, if any, must be found */
    size_t k = 0;
    while (k < s->labels_len && (s->labels[k] == ' ' || s->labels[k] == '\t'))
        k++;
    size_t kl = 0;
    while (k + kl < s->labels_len && kl < sizeof key - 1 && s->labels[k + kl] != '=' &&
           s->labels[k + kl] != ' ' && s->labels[k + kl] != '\t')
        kl++;
    if (kl > 0 && kl < sizeof key - 1) {
        memcpy(key, s->labels + k, kl);
        key[kl] = '\0';
        int r = prom_label(s, key, v, sizeof v);
        MUST(r == -2 || (r >= 0 && (size_t)r < sizeof v && strlen(v) <= (size_t)r));
    }
    MUST(prom_label(s, "no such label name", v, sizeof v) == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    memcpy(s, data, size);
    struct ctx c = {s, size, 0};
    prom_err_t e = {0, NULL};
    long n = prom_parse(s, size, on_sample, &c, &e);
    if (n >= 0) {
        MUST(n == c.calls);
    } else {
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += s[i] == '\n';
        MUST(n == -1 && e.why && *e.why && e.line >= 1 && e.line <= lines);
    }
    node_raw_t a = {0}, b = {0};
    char err[256];
    int r = node_read(&a, 1, s, size, err, sizeof err);
    MUST(r == 0 || n < 0 || strstr(err, "no node_exporter"));
    if (r == 0) {
        node_copy(&b, &a);
        b.time = 2;
        node_fig_t f;
        node_figures(&a, &b, &f);
        MUST(!(f.rx < 0) && !(f.tx < 0) && !(f.rd < 0) && !(f.wr < 0));
        MUST(!(f.cpu > 100) && !(f.busiest > 100));
    }
    node_free(&a);
    node_free(&b);
    free(s);
    return 0;
}
