// CUV: libuv for Swift. Only LinkRingUV imports this module.
// The inline helpers turn one handle type into another, as C does by casting, so the Swift
// side needs no type-punning of its own.
#ifndef LINKRING_CUV_SHIM_H
#define LINKRING_CUV_SHIM_H

#include <uv.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <malloc.h>
#include <errno.h>
#include <stdint.h>

static inline uv_handle_t *cuv_tcp_as_handle(uv_tcp_t *tcp) { return (uv_handle_t *)tcp; }
static inline uv_stream_t *cuv_tcp_as_stream(uv_tcp_t *tcp) { return (uv_stream_t *)tcp; }
static inline uv_handle_t *cuv_stream_as_handle(uv_stream_t *s) { return (uv_handle_t *)s; }
static inline uv_handle_t *cuv_timer_as_handle(uv_timer_t *t) { return (uv_handle_t *)t; }
static inline uv_handle_t *cuv_signal_as_handle(uv_signal_t *s) { return (uv_handle_t *)s; }
static inline uv_handle_t *cuv_check_as_handle(uv_check_t *c) { return (uv_handle_t *)c; }
static inline uv_handle_t *cuv_idle_as_handle(uv_idle_t *i) { return (uv_handle_t *)i; }
static inline uv_handle_t *cuv_process_as_handle(uv_process_t *p) { return (uv_handle_t *)p; }
static inline uv_handle_t *cuv_poll_as_handle(uv_poll_t *p) { return (uv_handle_t *)p; }
static inline uv_req_t *cuv_getaddrinfo_as_req(uv_getaddrinfo_t *r) { return (uv_req_t *)r; }
static inline const struct sockaddr *cuv_in_as_sockaddr(const struct sockaddr_in *a) { return (const struct sockaddr *)a; }
static inline struct sockaddr *cuv_storage_as_sockaddr(struct sockaddr_storage *a) { return (struct sockaddr *)a; }
static inline const struct sockaddr_in *cuv_storage_as_in(const struct sockaddr_storage *a) { return (const struct sockaddr_in *)a; }
static inline const struct sockaddr_in6 *cuv_storage_as_in6(const struct sockaddr_storage *a) { return (const struct sockaddr_in6 *)a; }
static inline struct sockaddr_in *cuv_storage_as_in_mut(struct sockaddr_storage *a) { return (struct sockaddr_in *)a; }
static inline struct sockaddr_in6 *cuv_storage_as_in6_mut(struct sockaddr_storage *a) { return (struct sockaddr_in6 *)a; }
static inline unsigned short cuv_get_port(const struct sockaddr_storage *a) {
    if (a->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
    return ntohs(((const struct sockaddr_in *)a)->sin_port);
}
static inline void cuv_set_port(struct sockaddr_storage *a, unsigned short port) {
    if (a->ss_family == AF_INET6) ((struct sockaddr_in6 *)a)->sin6_port = htons(port);
    else ((struct sockaddr_in *)a)->sin_port = htons(port);
}

/// Unblocks every signal: a child of a test runner may inherit a mask with SIGTERM blocked.
static inline void cuv_unblock_all_signals(void) {
    sigset_t empty;
    sigemptyset(&empty);
    pthread_sigmask(SIG_SETMASK, &empty, NULL);
}

static inline void cuv_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

/// glibc declares accept4 only under _GNU_SOURCE, which a module header cannot count on.
extern int accept4(int socket, struct sockaddr *address, socklen_t *length, int flags);

/// Accepts one connection, non-blocking and close-on-exec: the descriptor, or -errno.
static inline int cuv_accept(int listener) {
    int accepted = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return accepted >= 0 ? accepted : -errno;
}

/// Wall-clock milliseconds since the Unix epoch (CLOCK_REALTIME).
static inline long long cuv_wall_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/// One batch of the node's log, done on libuv's thread pool by `cuv_append_work` (one pool job
/// per batch: the loop hands over once and is woken once). In order: cut the file to `offset`
/// (`trim`: a segment being sealed gives back its preallocated zeros), write zeros over
/// [fill_from, fill_to) (preallocation: later batches then overwrite blocks already allocated,
/// so their fdatasync flushes data only), write `count` bytes at `offset`, fdatasync (`sync`).
/// Zeros that do not fit (a full disk) are cut off again and `fill_to` set back to `fill_from`;
/// any other failure stops it: `failed_step` 1 truncate, 2 zero fill (its cut), 3 write, 4 fdatasync,
/// with its errno in `error`; `written` counts the batch's bytes written. `owner` is the caller's.
typedef struct {
    int fd;
    const void *bytes;
    size_t count;
    int64_t offset;
    int64_t fill_from;
    int64_t fill_to;
    int sync;
    int trim;
    size_t written;
    int failed_step;
    int error;
    void *owner;
} cuv_append_job;

static inline int cuv_pwrite_all(int fd, const char *bytes, size_t count, int64_t offset, size_t *written) {
    while (*written < count) {
        ssize_t result = pwrite(fd, bytes + *written, count - *written, (off_t)(offset + (int64_t)*written));
        if (result < 0 && errno == EINTR) continue;
        if (result <= 0) return result < 0 ? errno : EIO;
        *written += (size_t)result;
    }
    return 0;
}

static inline void cuv_append_work(uv_work_t *request) {
    static const char zeros[65536];
    cuv_append_job *job = (cuv_append_job *)request->data;
    if (job->trim && ftruncate(job->fd, (off_t)job->offset) != 0) {
        job->failed_step = 1;
        job->error = errno;
        return;
    }
    for (int64_t at = job->fill_from; at < job->fill_to;) {
        size_t chunk = (size_t)(job->fill_to - at) < sizeof zeros ? (size_t)(job->fill_to - at) : sizeof zeros;
        size_t done = 0;
        if (cuv_pwrite_all(job->fd, zeros, chunk, at, &done) != 0) {
            /* A disk too full for the zeros may still take the batch: give them back, go on. */
            if (ftruncate(job->fd, (off_t)job->fill_from) != 0) {
                job->failed_step = 2;
                job->error = errno;
                return;
            }
            job->fill_to = job->fill_from;
            break;
        }
        at += (int64_t)chunk;
    }
    int error = cuv_pwrite_all(job->fd, (const char *)job->bytes, job->count, job->offset, &job->written);
    if (error) {
        job->failed_step = 3;
        job->error = error;
        return;
    }
    if (job->sync && fdatasync(job->fd) != 0) {
        job->failed_step = 4;
        job->error = errno;
    }
}

#endif
