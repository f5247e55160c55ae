/* Unit tests for stats/hist: index layout, exactness of small values, the
 * error bound of percentiles against exact values on 100k random values
 * from several distributions, merge == recording into one, reset, and
 * iteration in both directions. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "stats/hist.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static double uniform01(void)
{
    return (double)(xorshift() >> 11) / 9007199254740992.0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#define N 100000
static uint64_t vals[N];

static void check_distribution(const char *name)
{
    hist_t *h = hist_new();
    for (int i = 0; i < N; i++)
        hist_record(h, vals[i]);
    qsort(vals, N, sizeof vals[0], cmp_u64);
    CHECK(hist_count(h) == N);
    static const double ps[] = {0.0, 0.001, 0.01, 0.1,  0.25, 0.5,   0.66,   0.75,
                                0.8, 0.9,   0.95, 0.98, 0.99, 0.999, 0.9999, 1.0};
    for (size_t j = 0; j < sizeof ps / sizeof ps[0]; j++) {
        double r = ceil(ps[j] * N);
        size_t rank = r < 1 ? 1 : (size_t)r;
        uint64_t exact = vals[rank - 1];
        uint64_t got = hist_value_at_percentile(h, ps[j]);
        double err = exact ? fabs((double)got - (double)exact) / (double)exact : (double)got;
        CHECK_MSG(err <= 1.0 / 256 + 1e-12, "%s p=%g exact=%llu got=%llu err=%g", name, ps[j],
                  (unsigned long long)exact, (unsigned long long)got, err);
        if (exact < 256) CHECK_MSG(got == exact, "%s small value not exact", name);
    }
    hist_free(h);
}

static void test_distributions(void)
{
    for (int i = 0; i < N; i++)
        vals[i] = xorshift() % 1000; /* small: exact region + a bit */
    check_distribution("uniform<1ms");
    for (int i = 0; i < N; i++)
        vals[i] = 1000 + xorshift() % 5000000;
    check_distribution("uniform 1ms..5s");
    for (int i = 0; i < N; i++)
        vals[i] = (uint64_t)(-log(1 - uniform01()) * 20000.0);
    check_distribution("exponential mean 20ms");
    for (int i = 0; i < N; i++) {
        double u1 = uniform01() + 1e-12, u2 = uniform01();
        double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
        vals[i] = (uint64_t)exp(9.0 + 1.5 * z); /* lognormal, median ~8ms, long tail */
    }
    check_distribution("lognormal");
    for (int i = 0; i < N; i++) {
        /* bimodal: cache hits ~300µs, misses ~250ms */
        vals[i] = (xorshift() % 10 < 9) ? 250 + xorshift() % 100 : 200000 + xorshift() % 100000;
    }
    check_distribution("bimodal");
}

static void test_layout(void)
{
    for (uint64_t v = 0; v < 256; v++) {
        CHECK(hist_index(v) == (int)v);
        CHECK(hist_bucket_value((int)v) == v);
    }
    CHECK(hist_index(256) == 256);
    CHECK(hist_index(257) == 256);
    CHECK(hist_index(258) == 257);
    CHECK(hist_index(HIST_MAX_VALUE) == HIST_NBUCKETS - 1);
    CHECK(hist_index(UINT64_MAX) == HIST_NBUCKETS - 1);
    CHECK(hist_index(UINT64_C(1) << 35) < HIST_NBUCKETS);
    /* every bucket's representative maps back to itself, indexes increase
     * with the value, and the bound holds for every value tried */
    int prev = 0;
    for (int i = 0; i < HIST_NBUCKETS; i++)
        CHECK(hist_index(hist_bucket_value(i)) == i);
    int bad = 0;
    for (uint64_t v = 1; v < HIST_MAX_VALUE; v = v + 1 + v / 97) {
        int i = hist_index(v);
        if (i < prev) bad++;
        prev = i;
        double err = fabs((double)hist_bucket_value(i) - (double)v) / (double)v;
        if (err > 1.0 / 256) bad++;
    }
    CHECK(bad == 0);
}

static void test_merge_reset_iter(void)
{
    hist_t *a = hist_new(), *b = hist_new(), *all = hist_new();
    for (int i = 0; i < 20000; i++) {
        uint64_t v = xorshift() % 3000000;
        hist_record(i % 3 ? a : b, v);
        hist_record(all, v);
    }
    hist_merge(a, b);
    CHECK(hist_count(a) == hist_count(all));
    int same = 1;
    for (int i = 0; i < HIST_NBUCKETS; i++)
        same &= hist_bucket_count(a, i) == hist_bucket_count(all, i);
    CHECK(same);
    for (double p = 0; p <= 1.0; p += 0.01)
        CHECK(hist_value_at_percentile(a, p) == hist_value_at_percentile(all, p));

    /* iteration up and down visits the same buckets and sums to count */
    uint64_t up = 0, down = 0;
    int nup = 0, ndown = 0, last = -1;
    for (int i = hist_next(a, -1); i >= 0; i = hist_next(a, i)) {
        CHECK(i > last);
        last = i;
        up += hist_bucket_count(a, i);
        nup++;
    }
    for (int i = hist_prev(a, HIST_NBUCKETS); i >= 0; i = hist_prev(a, i)) {
        down += hist_bucket_count(a, i);
        ndown++;
    }
    CHECK(up == hist_count(a) && down == up && nup == ndown);

    hist_reset(a);
    CHECK(hist_count(a) == 0);
    CHECK(hist_next(a, -1) == -1);
    CHECK(hist_prev(a, HIST_NBUCKETS) == -1);
    CHECK(hist_value_at_percentile(a, 0.5) == 0);
    hist_record(a, 5);
    hist_record(a, 70000000000ull); /* clamps */
    CHECK(hist_next(a, -1) == 5);
    CHECK(hist_prev(a, HIST_NBUCKETS) == HIST_NBUCKETS - 1);
    CHECK(hist_value_at_percentile(a, 0.5) == 5);
    hist_add(a, 10, 3);
    CHECK(hist_count(a) == 5 && hist_bucket_count(a, 10) == 3);
    hist_free(a);
    hist_free(b);
    hist_free(all);
    hist_free(NULL);
}

int main(void)
{
    test_layout();
    test_distributions();
    test_merge_reset_iter();
    return check_done();
}
