/* mp: see mp.h. */
#include "dist/mp.h"

#include <math.h>
#include <string.h>

#include "base/alloc.h"

void mp_out_init(mp_out_t *o)
{
    msgpack_sbuffer_init(&o->buf);
    msgpack_packer_init(&o->pk, &o->buf, msgpack_sbuffer_write);
}

void mp_out_free(mp_out_t *o)
{
    msgpack_sbuffer_destroy(&o->buf);
}

void mp_out_clear(mp_out_t *o)
{
    msgpack_sbuffer_clear(&o->buf);
}

void mp_str(msgpack_packer *pk, const char *s)
{
    if (s == NULL) {
        msgpack_pack_nil(pk);
        return;
    }
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void mp_key(msgpack_packer *pk, const char *key)
{
    mp_str(pk, key);
}

void mp_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
    mp_str(pk, key);
    mp_str(pk, val);
}

void mp_kv_double(msgpack_packer *pk, const char *key, double val)
{
    mp_str(pk, key);
    msgpack_pack_double(pk, val);
}

void mp_kv_int(msgpack_packer *pk, const char *key, int64_t val)
{
    mp_str(pk, key);
    msgpack_pack_int64(pk, val);
}

void mp_kv_nil(msgpack_packer *pk, const char *key)
{
    mp_str(pk, key);
    msgpack_pack_nil(pk);
}

bool mp_is_str(const msgpack_object *o, const char *s)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR) return false;
    size_t n = strlen(s);
    return o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *mp_get(const msgpack_object *o, const char *key)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_MAP) return NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (mp_is_str(&o->via.map.ptr[i].key, key)) return &o->via.map.ptr[i].val;
    return NULL;
}

bool mp_num(const msgpack_object *o, double *out)
{
    if (o == NULL) return false;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)o->via.u64;
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)o->via.i64;
        return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64)) return false;
        *out = o->via.f64;
        return true;
    default:
        return false;
    }
}

bool mp_int(const msgpack_object *o, int64_t *out)
{
    if (o == NULL) return false;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)o->via.u64;
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = o->via.i64;
        return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: {
        double d = o->via.f64;
        if (!isfinite(d) || d != floor(d) || fabs(d) > 9.0e18) return false;
        *out = (int64_t)d;
        return true;
    }
    default:
        return false;
    }
}

bool mp_copy_str(const msgpack_object *o, char *buf, size_t n)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR || n == 0) return false;
    size_t len = o->via.str.size < n - 1 ? o->via.str.size : n - 1;
    memcpy(buf, o->via.str.ptr, len);
    buf[len] = '\0';
    return true;
}

char *mp_dup_str(const msgpack_object *o)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR) return NULL;
    return xstrndup(o->via.str.ptr, o->via.str.size);
}
