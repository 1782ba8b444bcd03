// clockshift: an LD_PRELOAD shim that moves one process's wall clock, and nothing else.
//
//   LINKRING_CLOCK_SHIFT_MS=60000 LD_PRELOAD=clockshift.so linkring-proxy …
//
// CLOCK_REALTIME (and its coarse variant), gettimeofday and time read the host's clock plus
// the shift; monotonic clocks are untouched, as they are on a host whose wall clock is wrong.
// The tests use it to give one proxy or node a skewed clock without touching the host's
// (libfaketime intercepts far more and broke argument parsing under the test harness).
// Built by the tests with `cc -shared -fPIC -O2 -o clockshift.so clockshift.c -ldl`.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long long shift_ms(void) {
    static long long cached = 0;
    static int loaded = 0;
    if (!loaded) {
        const char *text = getenv("LINKRING_CLOCK_SHIFT_MS");
        cached = text ? atoll(text) : 0;
        loaded = 1;
    }
    return cached;
}

static void shift(struct timespec *ts) {
    long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + shift_ms() * 1000000LL;
    ts->tv_sec = ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *) = 0;
    if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int status = real(id, ts);
    if (status == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) shift(ts);
    return status;
}

int gettimeofday(struct timeval *tv, void *zone) {
    struct timespec ts;
    int status = clock_gettime(CLOCK_REALTIME, &ts);
    if (status == 0 && tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    (void)zone;
    return status;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}
