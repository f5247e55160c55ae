/* Unit tests for base/sys: sys_raise_fd_limit leaves the soft limit on
 * open files at the hard one, starting from a lowered soft limit, and
 * reports it. */
#include <sys/resource.h>

#include "base/sys.h"
#include "check.h"

int main(void)
{
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_max > 64 && rl.rlim_max != RLIM_INFINITY) {
        struct rlimit low = {64, rl.rlim_max};
        CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    }
    long got = sys_raise_fd_limit();
    struct rlimit now;
    CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0);
    CHECK(now.rlim_cur == rl.rlim_max);
    if (rl.rlim_max != RLIM_INFINITY) CHECK(got == (long)rl.rlim_max);
    CHECK(sys_raise_fd_limit() == got); /* again: nothing to raise */
    return check_done();
}
