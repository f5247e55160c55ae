/* check.h: the smallest unit-test harness. CHECK(cond) counts a pass or
 * prints the failing expression with file:line; check_done() prints the
 * closing "N passed, N failed" line and returns the exit status. */
#ifndef CICADA_CHECK_H
#define CICADA_CHECK_H
#include <stdio.h>

static int check_pass, check_fail;
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond)                                                                                  \
            check_pass++;                                                                          \
        else {                                                                                     \
            check_fail++;                                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)
#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (cond)                                                                                  \
            check_pass++;                                                                          \
        else {                                                                                     \
            check_fail++;                                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_pass, check_fail);
    return check_fail ? 1 : 0;
}
#endif
