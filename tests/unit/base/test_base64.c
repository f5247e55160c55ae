/* Unit tests for base/base64: RFC 4648's test vectors both ways, padded
 * and not; decoding refuses characters outside the alphabet, '=' inside,
 * a lone last character and output that does not fit; every byte value
 * survives a round trip. The decoder reads s[0..n) only: the input sits
 * right before an unreadable page, so reading past it crashes. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/base64.h"
#include "check.h"

static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const bare[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

static long decode(const char *s, unsigned char *out, size_t cap)
{
    return base64_decode(out, cap, s, strlen(s));
}

static void test_vectors(void)
{
    char out[64];
    unsigned char dec[64];
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        size_t n = strlen(plain[i]);
        CHECK(base64_encode(out, plain[i], n, true) == strlen(coded[i]));
        CHECK_MSG(strcmp(out, coded[i]) == 0, "%s -> %s", plain[i], out);
        CHECK(strlen(out) <= BASE64_LEN(n));
        CHECK(base64_encode(out, plain[i], n, false) == strlen(bare[i]));
        CHECK(strcmp(out, bare[i]) == 0);
        CHECK(decode(coded[i], dec, sizeof dec) == (long)n && memcmp(dec, plain[i], n) == 0);
        CHECK(decode(bare[i], dec, sizeof dec) == (long)n && memcmp(dec, plain[i], n) == 0);
    }
    /* the WebSocket accept key of RFC 6455, section 1.3 (SHA-1 bytes) */
    static const unsigned char sha[20] = {0xb3, 0x7a, 0x4f, 0x2c, 0xc0, 0x62, 0x4f,
                                          0x16, 0x90, 0xf6, 0x46, 0x06, 0xcf, 0x38,
                                          0x59, 0x45, 0xb2, 0xbe, 0xc4, 0xea};
    CHECK(base64_encode(out, sha, sizeof sha, true) == 28);
    CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
}

static void test_bad_input(void)
{
    unsigned char dec[64];
    CHECK(decode("Zm9v!", dec, sizeof dec) == -1);  /* outside the alphabet */
    CHECK(decode("Zm 9v", dec, sizeof dec) == -1);  /* spaces too */
    CHECK(decode("Zg==Zg", dec, sizeof dec) == -1); /* '=' inside */
    CHECK(decode("Zm9vY", dec, sizeof dec) == -1);  /* a lone last character */
    CHECK(decode("Zm9vYmFy", dec, 5) == -1);        /* 6 bytes do not fit in 5 */
    CHECK(decode("Zm9vYmFy", dec, 6) == 6);
    CHECK(decode("====", dec, sizeof dec) == 0); /* padding alone is empty */
}

static void test_round_trip(void)
{
    unsigned char all[256], dec[256];
    char out[BASE64_LEN(256) + 1];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    for (size_t n = 0; n <= 256; n += 37) {
        size_t len = base64_encode(out, all, n, n % 2 == 0);
        CHECK(base64_decode(dec, sizeof dec, out, len) == (long)n);
        CHECK(memcmp(dec, all, n) == 0);
    }
}

/* Input ending right before a PROT_NONE page: the decoder must not read on. */
static void test_fenced(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *m =
        mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    if (m == MAP_FAILED) return;
    CHECK(mprotect(m + page, (size_t)page, PROT_NONE) == 0);
    char *s = m + page - 6;
    memcpy(s, "Zm9vYg", 6); /* no NUL, no padding: the page ends there */
    unsigned char dec[8];
    CHECK(base64_decode(dec, sizeof dec, s, 6) == 4 && memcmp(dec, "foob", 4) == 0);
    munmap(m, (size_t)page * 2);
}

int main(void)
{
    test_vectors();
    test_bad_input();
    test_round_trip();
    test_fenced();
    return check_done();
}
