/* mp: small helpers over msgpack-c (Debian's libmsgpack-dev) for the
 * master/worker protocol.
 *
 * Writing: an mp_out_t is a growable buffer with a packer on it; the
 * mp_* writers pack a string, or a "key": value pair of a map whose
 * header the caller packed. Strings are msgpack str (never bin) and
 * doubles float64, as Python's msgpack 1.0 writes them.
 *
 * Reading: decoded objects are msgpack_object trees owned by the
 * msgpack_unpacked (zone) that produced them. The getters never trust the
 * input: a wrong type answers "absent", so a malformed message can be
 * dropped without crashing. Map keys may be str, int or float (Locust's
 * stats dicts use number keys). msgpack-c allocates an array or map for
 * the element count its header claims before reading any element, so
 * frames are checked with mp_check() before they are unpacked. */
#ifndef CICADA_MP_H
#define CICADA_MP_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mp_out {
    msgpack_sbuffer buf;
    msgpack_packer pk;
} mp_out_t;

/* An empty buffer with its packer; free with mp_out_free. */
void mp_out_init(mp_out_t *o);
void mp_out_free(mp_out_t *o);
/* Empty the buffer, keeping its memory. */
void mp_out_clear(mp_out_t *o);

/* Pack s as a msgpack str; NULL packs nil. */
void mp_str(msgpack_packer *pk, const char *s);
/* Pack the pair key: value into a map being written. */
void mp_kv_str(msgpack_packer *pk, const char *key, const char *val); /* NULL → nil */
void mp_kv_double(msgpack_packer *pk, const char *key, double val);
void mp_kv_int(msgpack_packer *pk, const char *key, int64_t val);
void mp_kv_nil(msgpack_packer *pk, const char *key);
/* Pack the key only: the caller packs the value next. */
void mp_key(msgpack_packer *pk, const char *key);

/* The most nested non-empty arrays and maps msgpack-c unpacks
 * (MSGPACK_EMBED_STACK_SIZE). */
#define MP_MAX_DEPTH 32

/* The most objects (every value, key and container counts one) a frame
 * mp_check accepts: msgpack-c makes a 16-byte msgpack_object of each, so
 * this bounds what unpacking one frame allocates (about 120 MB, zone
 * included) whatever its size. A worker's report holds about 40 objects
 * per name plus 4 per response-time bucket in use (two histograms of
 * (bucket, count) pairs): 5,000 names with 150 buckets each fit. */
#define MP_MAX_OBJECTS (4u << 20)

/* True if buf (len bytes) is exactly one msgpack object that msgpack-c
 * unpacks without error, and no array or map in it claims more elements
 * than there are bytes left to hold them (each takes at least one), nor
 * more than MP_MAX_OBJECTS in all: so unpacking allocates at most about
 * min(len, MP_MAX_OBJECTS) objects, not the 2^32 a 5-byte array32 header
 * can claim. A pure scan: nothing is allocated. */
bool mp_check(const void *buf, size_t len);

/* The value of key in map o (key compared as a str); NULL if o is not a
 * map or has no such key. */
const msgpack_object *mp_get(const msgpack_object *o, const char *key);
/* o is a str equal to s. */
bool mp_is_str(const msgpack_object *o, const char *s);
/* A number (int or float) as a double; false if o is NULL or not one. */
bool mp_num(const msgpack_object *o, double *out);
/* An integer; floats with an integral value are accepted (Python may send
 * 120.0). False otherwise. */
bool mp_int(const msgpack_object *o, int64_t *out);
/* Copy a str into buf (size n, NUL-terminated, truncated); false if o is
 * NULL or not a str. */
bool mp_copy_str(const msgpack_object *o, char *buf, size_t n);
/* A new NUL-terminated copy (xmalloc) of a str, or NULL if not a str. */
char *mp_dup_str(const msgpack_object *o);

#endif
