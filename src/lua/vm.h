/* vm: a Lua VM with cicada's API and the scenario loaded.
 *
 * Each engine thread has its own VM; the main thread makes one more to check
 * the scenario before anything starts and to learn its user classes. Loading
 * runs the scenario file's top level, so it runs once per VM. Errors name
 * the file and line ("demo.lua:12: ..."). */
#ifndef CICADA_VM_H
#define CICADA_VM_H

#include <stddef.h>

#include "base/limits.h"

struct lua_State;
struct engine;

/* Each VM's Lua heap is limited: an allocation past the limit fails, which
 * Lua raises as "not enough memory" in the code that asked (a task: an
 * exception for that user), instead of the process running out of memory
 * and losing the run (docs/scenario.md, "Memory"). */
#define VM_MEMORY_LIMIT ((size_t)1 << 30)
#define VM_MEMORY_LIMIT_TEXT "1 GiB"

typedef struct vm_task {
    char name[96];
    double weight;
} vm_task_t;

typedef struct vm_class {
    char name[128];
    double weight;
    long fixed_count;
    char host[256];
    int ntasks;                   /* tasks that run (after tag filtering) */
    vm_task_t tasks[LIMIT_TASKS]; /* the first LIMIT_TASKS of them */
} vm_class_t;

typedef struct vm_conf {
    const char *locustfile;
    const char *host; /* -H: overrides every class's host; may be NULL */
    const char *const *tags, *const *exclude_tags;
    size_t ntags, nexclude_tags;
    long iterations; /* -i: tasks per user before it stops, 0 for no limit */
} vm_conf_t;

/* Create a VM for engine e (NULL for the main thread), load the prelude and
 * the scenario, and discover its user classes. Returns NULL with the reason
 * in err. */
struct lua_State *vm_new(struct engine *e, const vm_conf_t *conf, char *err, size_t n);

/* The classes found, sorted by name (the index used everywhere). Returns
 * how many were written to out (at most max). */
int vm_classes(struct lua_State *L, vm_class_t *out, int max);

void vm_free(struct lua_State *L);

/* How engines make and speak to their VMs (engine/engine.h engine_vm_t):
 * vm_new with the engine's conf, vm_free, the prelude's yields
 * (api_yielded), the STOP sentinel and custom messages (msg_deliver). */
extern const struct engine_vm vm_engine;

#endif
