/* custom: custom message frames and the queue. See custom.h.
 *
 * Frames are built in a caller's mp_out_t (the socket owner's) or, for
 * the queue, in a temporary one whose bytes are copied into one allocation
 * per message: custom messages are the scenario's, rare next to requests,
 * so an allocation each is fine. */
#include "dist/custom.h"

#include <string.h>

#include "base/alloc.h"

void custom_frame(mp_out_t *o, const char *name, const void *data, size_t len, const char *node_id)
{
    msgpack_pack_array(&o->pk, 3);
    mp_str(&o->pk, name);
    msgpack_sbuffer_write(&o->buf, data, len);
    mp_str(&o->pk, node_id);
}

void custom_queue_init(custom_queue_t *q)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
}

void custom_queue_free(custom_queue_t *q)
{
    for (custom_item_t *it = q->head, *next; it; it = next) {
        next = it->next;
        xfree(it);
    }
    pthread_mutex_destroy(&q->lock);
}

const char *custom_push(custom_queue_t *q, const char *name, const void *data, size_t len,
                        const char *node_id)
{
    mp_out_t o;
    mp_out_init(&o);
    custom_frame(&o, name, data, len, node_id);
    custom_item_t *it = xmalloc(sizeof *it + o.buf.size);
    it->next = NULL;
    it->len = o.buf.size;
    memcpy(it->buf, o.buf.data, o.buf.size);
    mp_out_free(&o);
    pthread_mutex_lock(&q->lock);
    if (q->n >= CUSTOM_QUEUE_MAX || q->bytes + it->len > CUSTOM_QUEUE_BYTES) {
        pthread_mutex_unlock(&q->lock);
        xfree(it);
        return "too many messages waiting to be sent: dropped";
    }
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->n++;
    q->bytes += it->len;
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

custom_item_t *custom_take(custom_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    custom_item_t *all = q->head;
    q->head = q->tail = NULL;
    q->n = q->bytes = 0;
    pthread_mutex_unlock(&q->lock);
    return all;
}
