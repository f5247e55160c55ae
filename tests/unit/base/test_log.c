/* Unit tests for the log's ring (the web UI's Logs tab): every line logged
 * is kept, numbered, as printed; log_recent copies the newest lines after
 * a given number, oldest first, at most max of them and none older than
 * `since`; the ring keeps the last LOG_RING lines; a line longer than a
 * slot is kept cut but printed whole. The log goes to a temporary file. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "check.h"

static log_line_t got[LOG_RING + 10];

int main(void)
{
    char path[] = "/tmp/cicada-log-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(log_set_file(path) == 0);

    CHECK(log_recent(got, 10, 0, 0) == 0); /* nothing logged yet */

    log_info("first %d", 1);
    log_debug("below the level: neither printed nor kept");
    log_warn("second");
    size_t n = log_recent(got, 10, 0, 0);
    CHECK(n == 2);
    CHECK(got[0].seq == 1 && got[1].seq == 2);
    CHECK(strstr(got[0].text, "/INFO/cicada: first 1") != NULL);
    CHECK(strstr(got[1].text, "/WARNING/cicada: second") != NULL);
    CHECK(got[0].text[0] == '[' && strchr(got[0].text, '\n') == NULL);
    CHECK(got[1].time >= got[0].time && got[0].time > 1.6e9);

    /* after: only newer lines */
    n = log_recent(got, 10, 1, 0);
    CHECK(n == 1 && got[0].seq == 2);
    CHECK(log_recent(got, 10, 2, 0) == 0);

    /* since: none older than that */
    CHECK(log_recent(got, 10, 0, (double)time(NULL) + 100) == 0);

    /* max: the newest max, oldest first */
    for (int i = 0; i < 5; i++)
        log_info("line %d", i);
    n = log_recent(got, 3, 0, 0);
    CHECK(n == 3);
    CHECK(got[0].seq == 5 && got[2].seq == 7);
    CHECK(strstr(got[2].text, "line 4") != NULL);

    /* the ring keeps the last LOG_RING lines */
    for (int i = 0; i < LOG_RING + 20; i++)
        log_info("flood %d", i);
    n = log_recent(got, LOG_RING + 10, 0, 0);
    CHECK(n == LOG_RING);
    CHECK(got[n - 1].seq == 7 + LOG_RING + 20);
    CHECK(got[0].seq == got[n - 1].seq - LOG_RING + 1);
    char want[64];
    snprintf(want, sizeof want, "flood %d", LOG_RING + 19);
    CHECK(strstr(got[n - 1].text, want) != NULL);

    /* a long line: kept cut, printed whole */
    char big[LOG_LINE_MAX * 2];
    memset(big, 'x', sizeof big - 2);
    big[sizeof big - 2] = 'Z';
    big[sizeof big - 1] = '\0';
    log_info("%s", big);
    n = log_recent(got, 1, 0, 0);
    CHECK(n == 1 && strlen(got[0].text) == LOG_LINE_MAX - 1);
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    bool whole = false;
    while (getline(&line, &cap, f) > 0)
        if (strstr(line, "xZ\n")) whole = true;
    CHECK(whole);
    free(line);
    fclose(f);
    unlink(path);
    return check_done();
}
