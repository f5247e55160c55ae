/* must.h: the fuzz targets' invariant check. MUST(cond) aborts with the
 * file, line and condition when cond is false, so libFuzzer records the
 * input as a crash (an assert() would vanish under -DNDEBUG). */
#ifndef CICADA_FUZZ_MUST_H
#define CICADA_FUZZ_MUST_H

#include <stdio.h>
#include <stdlib.h>

#define MUST(cond)                                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
