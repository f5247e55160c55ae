/* log: see log.h. */
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
    FILE *f = sink();
    fprintf(f, "[%s,%03d] %s/%s/%s: ", stamp, (int)(tv.tv_usec / 1000), host, names[level],
            logger);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
    pthread_mutex_unlock(&lock);
    va_end(ap);
}

void log_plain(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&lock);
    FILE *f = sink();
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
    pthread_mutex_unlock(&lock);
    va_end(ap);
}
