/* sys: what the operating system lets the process use, asked for once at
 * start.
 *
 * Many users need many sockets, and a demo site serving them as many: both
 * entry points (main.c's load test and demo/demo.c's server) raise the
 * soft limit on open files to the hard one before they open any, so a run
 * of thousands of users needs no `ulimit -n` from the user. Nothing here
 * runs after start-up. */
#ifndef CICADA_SYS_H
#define CICADA_SYS_H

/* Raise the soft RLIMIT_NOFILE to the hard limit. Returns the soft limit
 * in force afterwards (unchanged if raising failed), or -1 if it cannot be
 * read. Never fails the caller: a lower limit shows later as sockets that
 * cannot be opened, counted as connection errors. */
long sys_raise_fd_limit(void);

#endif
