/* custom: custom messages on the wire (Locust's register_message /
 * send_message; docs/distributed.md, "Custom messages").
 *
 * A custom message is an ordinary protocol message [name, data, node_id]
 * whose name a scenario registered: data is any msgpack value, encoded by
 * lua/msg.c. This module builds such frames around already-encoded data
 * and keeps a bounded queue of frames for a thread that does not own the
 * socket (a worker's engines hand theirs to the link thread this way). The
 * master's side (its own VM, handlers, test_start) is master_custom.c. */
#ifndef CICADA_CUSTOM_H
#define CICADA_CUSTOM_H

#include <pthread.h>
#include <stddef.h>

#include "dist/mp.h"

/* What a queue holds at most; past either bound a message is refused. */
#define CUSTOM_QUEUE_MAX 10000
#define CUSTOM_QUEUE_BYTES ((size_t)64 << 20)

/* Append the frame [name, data, node_id] to o; data is len bytes of one
 * msgpack value, copied as they are. */
void custom_frame(mp_out_t *o, const char *name, const void *data, size_t len, const char *node_id);

typedef struct custom_item {
    struct custom_item *next;
    size_t len;
    char buf[]; /* one whole frame */
} custom_item_t;

typedef struct custom_queue {
    pthread_mutex_t lock;
    custom_item_t *head, *tail;
    size_t n, bytes;
} custom_queue_t;

void custom_queue_init(custom_queue_t *q);
/* Free the queue and the frames still in it. */
void custom_queue_free(custom_queue_t *q);
/* Queue the frame [name, data, node_id] (copied). Thread-safe. Returns
 * NULL, or the reason it was refused (the queue is full). */
const char *custom_push(custom_queue_t *q, const char *name, const void *data, size_t len,
                        const char *node_id);
/* Take every queued frame, oldest first; the caller frees each with
 * xfree. Thread-safe. */
custom_item_t *custom_take(custom_queue_t *q);

#endif
