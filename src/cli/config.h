/* config: Locust's configuration files, read into key = value items.
 *
 * Locust users keep their flags in ~/.locust.conf, ./locust.conf,
 * ./pyproject.toml (its [tool.locust] table) and a file named by --config.
 * config_read() reads one of them and hands each item to a callback, which
 * (in opts.c) maps the key to a flag. Ini-style files are parsed by
 * libinih with ConfigArgParse's syntax on top: "key = value", "key: value"
 * or a bare "key" (true), '#' and ';' comments, [sections] ignored, quotes
 * around a value removed, and "[a, b]" read as a list. Files whose name
 * ends in ".toml" are read with toml.c. Precedence between files and the
 * other sources is the caller's business. */
#ifndef CICADA_CONFIG_H
#define CICADA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_MAX_FILES 4

/* One item: where is "FILE:LINE" for messages, key as written (without
 * quotes), vals[0..n) the value or, when list is true, the list's elements.
 * All strings live only until the callback returns. Return 0 to go on, or
 * nonzero (after writing the caller's own error) to stop the reading. */
typedef int (*config_fn)(void *ud, const char *where, const char *key, const char *const *vals,
                         size_t n, bool list);

/* Read the file at path and call fn for each item, in file order. A file
 * that does not exist is skipped (returns 0) unless must_exist. Returns 0,
 * the callback's nonzero return, or -1 with err (size n) set to
 * "cicada: error: FILE:LINE: what" for a syntax error or
 * "cicada: error: ...: cannot read FILE: why". */
int config_read(const char *path, bool must_exist, config_fn fn, void *ud, char *err, size_t n);

/* The files Locust reads without being asked, in order of increasing
 * precedence: "$HOME/.locust.conf" (if HOME is set and it fits in buf, of
 * size n, which holds it), "locust.conf", "pyproject.toml". Fills paths
 * and returns how many (at most CONFIG_MAX_FILES - 1). */
size_t config_defaults(const char *paths[CONFIG_MAX_FILES], char *buf, size_t n);

#endif
