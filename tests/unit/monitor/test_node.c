/* Unit tests for monitor/node.c: figures from two node_exporter readings. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "monitor/node.h"

static const char *page(char *buf, size_t n, double idle0, double user0, double idle1, double user1,
                        double rx, double lorx, double rd)
{
    snprintf(buf, n,
             "# TYPE node_cpu_seconds_total counter\n"
             "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} %g\n"
             "node_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 1\n"
             "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} %g\n"
             "node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} %g\n"
             "node_cpu_seconds_total{cpu=\"1\",mode=\"user\"} %g\n"
             "node_load1 1.5\n"
             "node_memory_MemTotal_bytes 1000\n"
             "node_memory_MemAvailable_bytes 250\n"
             "node_network_receive_bytes_total{device=\"eth0\"} %g\n"
             "node_network_transmit_bytes_total{device=\"eth0\"} 0\n"
             "node_network_receive_bytes_total{device=\"lo\"} %g\n"
             "node_network_transmit_bytes_total{device=\"lo\"} %g\n"
             "node_disk_read_bytes_total{device=\"sda\"} %g\n"
             "node_disk_written_bytes_total{device=\"sda\"} 0\n"
             "node_filefd_allocated 42\n",
             idle0, user0, idle1, user1, rx, lorx, lorx, rd);
    return buf;
}

static void test_figures(void)
{
    char b[2048], err[256];
    node_raw_t a = {0}, c = {0};
    page(b, sizeof b, 100, 10, 100, 10, 1000, 0, 0);
    CHECK(node_read(&a, 10, b, strlen(b), err, sizeof err) == 0);
    node_fig_t f;
    node_figures(NULL, &a, &f);
    CHECK(f.load1 == 1.5 && f.mem == 75 && f.fds == 42 && isnan(f.tcp));
    CHECK(isnan(f.cpu) && isnan(f.rx));
    /* 2 s later: core 0 busy 1 of 2 s, core 1 busy 2 of 2 s */
    page(b, sizeof b, 101, 11, 100, 12, 3000, 500, 4096);
    CHECK(node_read(&c, 12, b, strlen(b), err, sizeof err) == 0);
    node_figures(&a, &c, &f);
    CHECK_MSG(fabs(f.cpu - 75) < 1e-9, "%g", f.cpu);
    CHECK(fabs(f.busiest - 100) < 1e-9);
    CHECK(f.rx == 1000 && f.tx == 0); /* lo left out: eth0 moved bytes */
    CHECK(f.rd == 2048 && f.wr == 0);
    /* only lo moved: lo counts */
    node_raw_t d = {0};
    page(b, sizeof b, 102, 11, 101, 12, 3000, 1500, 4096);
    CHECK(node_read(&d, 13, b, strlen(b), err, sizeof err) == 0);
    node_figures(&c, &d, &f);
    CHECK(f.rx == 1000 && f.tx == 1000);
    CHECK(f.cpu == 0);
    /* a counter that went back (a restart) is unknown, not negative */
    node_figures(&d, &a, &f);
    CHECK(isnan(f.rx));
    node_copy(&a, &d);
    CHECK(a.ncpu == 2 && a.busy[1] == d.busy[1] && a.busy != d.busy);
    node_free(&a);
    node_free(&c);
    node_free(&d);
}

static void test_errors(void)
{
    node_raw_t a = {0};
    char err[256];
    const char *html = "<html><body>hi</body></html>";
    CHECK(node_read(&a, 0, html, strlen(html), err, sizeof err) == -1);
    CHECK(strstr(err, "line 1") != NULL);
    const char *other = "go_goroutines 5\n";
    CHECK(node_read(&a, 0, other, strlen(other), err, sizeof err) == -1);
    CHECK(strstr(err, "no node_exporter") != NULL);
    const char *big = "node_cpu_seconds_total{cpu=\"99999\",mode=\"user\"} 1\nnode_load1 1\n";
    CHECK(node_read(&a, 0, big, strlen(big), err, sizeof err) == 0 && a.ncpu == 0);
    node_free(&a);
}

int main(void)
{
    test_figures();
    test_errors();
    return check_done();
}
