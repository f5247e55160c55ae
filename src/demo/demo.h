/* demo: the built-in demo site, a small HTTP/1.1 server to load-test.
 *
 * `cicada demo-server` runs it so that `make run`, the examples and the
 * tests have a target that needs nothing installed. It is a single-threaded
 * epoll server (site.h has the routes, req.h the request parser) that is
 * cheap enough per request not to be the bottleneck of a benchmark, and that
 * only ever binds a loopback address: it is a test target, not a web server. */
#ifndef CICADA_DEMO_H
#define CICADA_DEMO_H

/* Serve the demo site on host:port until SIGINT or SIGTERM.
 *
 * host is a loopback address ("127.0.0.1", any 127.0.0.0/8, "::1", "[::1]"
 * or "localhost"); anything else is refused with a message on stderr. port
 * 0 picks a free port. slow_delay (seconds, >= 0) is how long GET /slow waits
 * before answering; fail_ratio (0..1) is the chance that GET /flaky answers
 * 500. On start it prints "demo site listening on http://HOST:PORT" on
 * stderr (with the real port), and nothing per request.
 *
 * Returns the process exit code: 0 after a clean stop by signal, 2 for bad
 * arguments (including a non-loopback host), 1 if the socket cannot be set
 * up. SIGINT and SIGTERM are blocked in the calling thread while it runs
 * (read through a signalfd) and the mask is restored before it returns. */
int demo_run(const char *host, int port, double slow_delay, double fail_ratio);

#endif
