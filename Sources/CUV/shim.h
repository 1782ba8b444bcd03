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

static inline uv_handle_t *cuv_tcp_as_handle(uv_tcp_t *tcp) { return (uv_handle_t *)tcp; }
static inline uv_stream_t *cuv_tcp_as_stream(uv_tcp_t *tcp) { return (uv_stream_t *)tcp; }
static inline uv_handle_t *cuv_stream_as_handle(uv_stream_t *s) { return (uv_handle_t *)s; }
static inline uv_handle_t *cuv_timer_as_handle(uv_timer_t *t) { return (uv_handle_t *)t; }
static inline uv_handle_t *cuv_signal_as_handle(uv_signal_t *s) { return (uv_handle_t *)s; }
static inline uv_handle_t *cuv_check_as_handle(uv_check_t *c) { return (uv_handle_t *)c; }
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

#endif
