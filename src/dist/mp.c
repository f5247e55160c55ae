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

/* Big-endian length of n bytes at p. */
static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

bool mp_check(const void *buf, size_t len)
{
    const unsigned char *p = buf, *end = p + len;
    /* left[d]: elements still to read in the d-th open container */
    uint64_t left[MP_MAX_DEPTH + 1];
    int depth = 0;
    left[0] = 1;          /* the top-level object */
    uint64_t pending = 1; /* sum of left[]: every one needs a byte */
    uint64_t objects = 1; /* announced so far, the top-level one included */
    while (pending) {
        if (p == end) return false;
        unsigned b = *p++;
        pending--;
        left[depth]--;
        uint64_t skip = 0, count = 0;
        int lenbytes = 0;
        bool container = (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf);
        /* msgpack-c refuses even an empty container past its stack */
        if (container && depth == MP_MAX_DEPTH) return false;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b <= 0x8f) {
            count = 2 * (b & 0x0f);
        } else if (b <= 0x9f) {
            count = b & 0x0f;
        } else if (b <= 0xbf) {
            skip = b & 0x1f;
        } else if (b == 0xc1) {
            return false; /* never used */
        } else if (b <= 0xc6) {
            lenbytes = 1 << (b - 0xc4); /* bin 8/16/32 */
        } else if (b <= 0xc9) {
            lenbytes = 1 << (b - 0xc7); /* ext 8/16/32, then the type byte */
            skip = 1;
        } else if (b <= 0xd3) {
            static const unsigned char fixed[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8};
            skip = fixed[b - 0xca]; /* float 32/64, uint and int 8..64 */
        } else if (b <= 0xd8) {
            skip = 1 + (1u << (b - 0xd4)); /* fixext: type byte and 1..16 */
        } else if (b <= 0xdb) {
            lenbytes = 1 << (b - 0xd9); /* str 8/16/32 */
        } else {
            int wide = b & 1; /* 0xdc array16, 0xdd array32, 0xde map16, 0xdf map32 */
            if ((size_t)(end - p) < (wide ? 4u : 2u)) return false;
            count = be(p, wide ? 4 : 2) * (b >= 0xde ? 2 : 1);
            p += wide ? 4 : 2;
        }
        if (lenbytes) {
            if ((size_t)(end - p) < (size_t)lenbytes) return false;
            skip += be(p, lenbytes);
            p += lenbytes;
        }
        if (skip > (uint64_t)(end - p)) return false;
        p += skip;
        if (pending > (uint64_t)(end - p)) return false;
        if (count) {
            if (count > (uint64_t)(end - p) - pending) return false;
            if ((objects += count) > MP_MAX_OBJECTS) return false;
            left[++depth] = count;
            pending += count;
        }
        while (depth > 0 && left[depth] == 0)
            depth--;
    }
    return p == end;
}

bool mp_is_str(const msgpack_object *o, const char *s)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR) return false;
    size_t n = strlen(s);
    /* msgpack-c gives an empty str a NULL ptr: no memcmp/memcpy on it */
    return o->via.str.size == n && (n == 0 || memcmp(o->via.str.ptr, s, n) == 0);
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
    if (len) memcpy(buf, o->via.str.ptr, len);
    buf[len] = '\0';
    return true;
}

char *mp_dup_str(const msgpack_object *o)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR) return NULL;
    return o->via.str.size ? xstrndup(o->via.str.ptr, o->via.str.size) : xstrdup("");
}
