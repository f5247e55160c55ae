/* log: see log.h. Each line goes to the sink and into the ring. */
#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static FILE *out;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *names[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};
static log_line_t ring[LOG_RING]; /* ring[seq % LOG_RING]; guarded by lock */
static unsigned long last_seq;

int log_parse_level(const char *s, enum log_level *level)
{
    for (int i = 0; i < 5; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "WARN") == 0) {
        *level = LOG_WARNING;
        return 0;
    }
    return -1;
}

void log_set_level(enum log_level level)
{
    min_level = level;
}

int log_set_file(const char *path)
{
    FILE *f = fopen(path, "a");
    if (f == NULL) return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    pthread_mutex_lock(&lock);
    out = f;
    pthread_mutex_unlock(&lock);
    return 0;
}

static FILE *sink(void)
{
    return out ? out : stderr;
}

void log_msg(enum log_level level, const char *logger, const char *fmt, ...)
{
    if (level < min_level) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char stamp[32], host[64] = "localhost";
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    gethostname(host, sizeof host - 1);
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&lock);
    /* formatted once into the ring, then printed from there; a line longer
     * than the ring's slot is printed whole from a second pass */
    log_line_t *l = &ring[++last_seq % LOG_RING];
    l->seq = last_seq;
    l->time = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
    int k = snprintf(l->text, sizeof l->text, "[%s,%03d] %s/%s/%s: ", stamp,
                     (int)(tv.tv_usec / 1000), host, names[level], logger);
    va_list copy;
    va_copy(copy, ap);
    int m = k >= 0 && (size_t)k < sizeof l->text
                ? vsnprintf(l->text + k, sizeof l->text - (size_t)k, fmt, copy)
                : 0;
    va_end(copy);
    FILE *f = sink();
    if (k >= 0 && m >= 0 && (size_t)k + (size_t)m < sizeof l->text) {
        fputs(l->text, f);
    } else {
        fprintf(f, "[%s,%03d] %s/%s/%s: ", stamp, (int)(tv.tv_usec / 1000), host, names[level],
                logger);
        vfprintf(f, fmt, ap);
    }
    fputc('\n', f);
    fflush(f);
    pthread_mutex_unlock(&lock);
    va_end(ap);
}

size_t log_recent(log_line_t *dst, size_t max, unsigned long after, double since)
{
    pthread_mutex_lock(&lock);
    unsigned long first = last_seq > LOG_RING ? last_seq - LOG_RING + 1 : 1;
    if (after + 1 > first) first = after + 1;
    if (last_seq >= first && last_seq - first + 1 > max) first = last_seq - max + 1;
    size_t n = 0;
    for (unsigned long s = first; s <= last_seq && n < max; s++) {
        const log_line_t *l = &ring[s % LOG_RING];
        if (l->time >= since) dst[n++] = *l;
    }
    pthread_mutex_unlock(&lock);
    return n;
}
