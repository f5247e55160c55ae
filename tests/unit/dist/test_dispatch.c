/* Unit tests for dist/dispatch: Locust 2.12.1's distribution of users over
 * workers. Expected values were produced by Locust's own UsersDispatcher
 * (python3-locust 2.12.1) with the same classes and worker ids. */
#include <string.h>

#include "check.h"
#include "dist/dispatch.h"

static long at(const long *out, int w, int ncls, int c)
{
    return out[w * ncls + c];
}

int main(void)
{
    /* classes sorted by name, as the master gives them */
    dispatch_class_t two[] = {{"Other", 1, 0}, {"Web", 3, 0}};
    dispatch_t *d = dispatch_new(two, 2);
    int seq[16];
    CHECK(dispatch_sequence(d, 8, seq) == 8);
    /* smooth round-robin over normalised weights 2:6, ties to the first */
    int want[8] = {1, 0, 1, 1, 1, 0, 1, 1};
    CHECK(memcmp(seq, want, sizeof want) == 0);

    long out[64];
    /* {'a_1': {'Other': 0, 'Web': 5}, 'a_2': {'Other': 3, 'Web': 2}} */
    const char *ab[] = {"a_1", "a_2"};
    CHECK(dispatch_counts(d, ab, 2, 10, out) == 10);
    CHECK(at(out, 0, 2, 0) == 0 && at(out, 0, 2, 1) == 5);
    CHECK(at(out, 1, 2, 0) == 3 && at(out, 1, 2, 1) == 2);

    /* worker order: (index within host, id); b_1 is first of its host */
    const char *three[] = {"b_1", "a_1", "a_2"};
    CHECK(dispatch_counts(d, three, 3, 7, out) == 7);
    CHECK(at(out, 0, 2, 0) == 1 && at(out, 0, 2, 1) == 1); /* b_1 */
    CHECK(at(out, 1, 2, 0) == 0 && at(out, 1, 2, 1) == 3); /* a_1 */
    CHECK(at(out, 2, 2, 0) == 1 && at(out, 2, 2, 1) == 1); /* a_2 */

    const char *four[] = {"h2_x", "h1_y", "h1_z", "h2_a"};
    int order[4];
    dispatch_order(four, 4, order);
    /* h1_y, h2_a (index 0 in their hosts), then h1_z, h2_x */
    CHECK(order[0] == 1 && order[1] == 3 && order[2] == 2 && order[3] == 0);
    CHECK(dispatch_counts(d, four, 4, 13, out) == 13);
    CHECK(at(out, 0, 2, 1) == 3 && at(out, 0, 2, 0) == 0); /* h2_x */
    CHECK(at(out, 1, 2, 1) == 4 && at(out, 1, 2, 0) == 0); /* h1_y */
    CHECK(at(out, 2, 2, 1) == 3 && at(out, 2, 2, 0) == 0); /* h1_z */
    CHECK(at(out, 3, 2, 1) == 0 && at(out, 3, 2, 0) == 3); /* h2_a */

    /* ramping down keeps a prefix: the newest users go first */
    long out5[4];
    dispatch_counts(d, ab, 2, 5, out5);
    long total = 0;
    for (int i = 0; i < 4; i++)
        total += out5[i];
    CHECK(total == 5);
    dispatch_free(d);

    /* fixed_count classes first:
     * {'a_1': {'Fix': 1, 'Other': 0, 'Web': 4}, 'a_2': {'Fix': 1, 'Other': 2, 'Web': 1}} */
    dispatch_class_t fix[] = {{"Fix", 1, 2}, {"Other", 1, 0}, {"Web", 3, 0}};
    d = dispatch_new(fix, 3);
    CHECK(dispatch_counts(d, ab, 2, 9, out) == 9);
    CHECK(at(out, 0, 3, 0) == 1 && at(out, 0, 3, 1) == 0 && at(out, 0, 3, 2) == 4);
    CHECK(at(out, 1, 3, 0) == 1 && at(out, 1, 3, 1) == 2 && at(out, 1, 3, 2) == 1);
    dispatch_free(d);

    /* only fixed classes: no more users than their counts */
    dispatch_class_t only[] = {{"A", 1, 2}, {"B", 1, 1}};
    d = dispatch_new(only, 2);
    CHECK(dispatch_counts(d, ab, 2, 10, out) == 3);
    CHECK(out[0] + out[2] == 2 && out[1] + out[3] == 1);
    dispatch_free(d);

    /* one class, one worker; no workers */
    dispatch_class_t one[] = {{"U", 5, 0}};
    d = dispatch_new(one, 1);
    const char *w1[] = {"x_1"};
    CHECK(dispatch_counts(d, w1, 1, 1000000, out) == 1000000 && out[0] == 1000000);
    CHECK(dispatch_counts(d, w1, 0, 10, out) == 0);
    dispatch_free(d);

    /* large equal split: 10 users of one class over 2 workers → 5/5 */
    d = dispatch_new(one, 1);
    CHECK(dispatch_counts(d, ab, 2, 10, out) == 10 && out[0] == 5 && out[1] == 5);
    dispatch_free(d);
    return check_done();
}
