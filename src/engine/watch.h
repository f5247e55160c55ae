/* watch: the engine's side of watching for a thread stuck in Lua (the
 * main thread's calls, engine_busy_ns, engine_interrupt, engine_where and
 * engine_abandon, are declared in engine.h). Internal to src/engine. */
#ifndef CICADA_WATCH_H
#define CICADA_WATCH_H

struct engine;

/* Install the SIGURG handler (once per process; before any engine thread
 * starts). */
void watch_install(void);
/* On a new engine thread: block every signal but SIGURG, and bind e to
 * the thread (engine_bind). */
void watch_thread(struct engine *e);
/* If the main thread abandoned e, never return (the thread sleeps until
 * the process ends); else return at once. */
void watch_park(struct engine *e);

#endif
