/* Unit tests for engine_self/engine_bind (engine/watch.c): a thread has no
 * engine until it binds one, and a binding is the thread's alone. */
#include <pthread.h>

#include "check.h"
#include "engine/engine.h"

static engine_t a, b;

static void *other(void *arg)
{
    engine_t *seen = engine_self(); /* not the main thread's binding */
    engine_bind(&b);
    return seen == NULL && engine_self() == &b ? arg : NULL;
}

int main(void)
{
    CHECK(engine_self() == NULL);
    engine_bind(&a);
    CHECK(engine_self() == &a);
    pthread_t t;
    void *ok = NULL;
    CHECK(pthread_create(&t, NULL, other, &a) == 0);
    CHECK(pthread_join(t, &ok) == 0);
    CHECK(ok == &a);
    CHECK(engine_self() == &a); /* the other thread's binding did not leak here */
    engine_bind(NULL);
    CHECK(engine_self() == NULL);
    return check_done();
}
