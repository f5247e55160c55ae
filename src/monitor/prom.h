/* prom: the Prometheus text exposition format (version 0.0.4), parsed.
 *
 * A pure parser over (buf, len), in the manner of picohttpparser: it calls
 * the caller back once per sample with pointers into buf and never
 * allocates, so it keeps nothing between samples and has no bound of its
 * own on their number. It understands what node_exporter writes and the
 * format allows: comment lines, "# HELP name text" and "# TYPE name kind"
 * (checked: a metric name, a known kind), samples with or without a label
 * set ({a="x",b="y",} with a trailing comma allowed), label values with
 * the escapes \\ \" and \n, values in Go's ParseFloat syntax (exponents,
 * NaN, +Inf, -Inf), and an optional integer timestamp in milliseconds.
 * Lines end with \n (a \r before it is tolerated); the last may lack one.
 * It does not read the OpenMetrics extensions (# EOF, exemplars). */
#ifndef CICADA_PROM_H
#define CICADA_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One sample. name and labels point into the parsed buffer and are valid
 * only during the callback; labels is the raw text between the braces
 * (escapes still in it; "" when the sample has none): read a value with
 * prom_label. */
typedef struct prom_sample {
    const char *name;
    size_t name_len;
    const char *labels;
    size_t labels_len;
    double value;
    bool has_ts;
    int64_t ts_ms;
} prom_sample_t;

typedef void (*prom_fn)(void *ud, const prom_sample_t *s);

/* The first error of a parse: its 1-based line and a static reason. */
typedef struct prom_err {
    size_t line;
    const char *why;
} prom_err_t;

/* Parse buf (len bytes, no NUL needed) and call fn(ud, sample) for each
 * sample, in order. Returns the number of samples, or -1 at the first
 * malformed line with *err filled (err may be NULL); samples before that
 * line have been handed to fn already. */
long prom_parse(const char *buf, size_t len, prom_fn fn, void *ud, prom_err_t *err);

/* The value of label key in s, unescaped into out (n bytes, always
 * NUL-terminated when n > 0). Returns its length, -1 if s has no such
 * label, or -2 if out is too small (out then holds a truncated value).
 * s must come from prom_parse (its label text is known to be valid). */
int prom_label(const prom_sample_t *s, const char *key, char *out, size_t n);

/* Does the sample's name equal name? */
bool prom_is(const prom_sample_t *s, const char *name);

#endif
