/* bench_sys.h - the system calls of the load engine's hot paths, made
 * without glibc's cancellation-point bookkeeping.
 *
 * In a process with more than one thread (`wsv bench` always has its main
 * thread beside the workers), glibc wraps every cancellation point (recv,
 * send, writev, connect, close, epoll_wait) in __pthread_enable_asynccancel
 * and __pthread_disable_asynccancel: about 200 user instructions per
 * connect cycle, 9 % of the generator's user time (callgrind).  The workers
 * are never cancelled, so they call the kernel through syscall(2), which
 * only moves the arguments and sets errno.  Each function behaves as the
 * libc call of the same name (return value and errno).
 */
#ifndef WSV_BENCH_SYS_H
#define WSV_BENCH_SYS_H

#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static inline ssize_t bsys_recv(int fd, void *p, size_t n, int flags) {
  return (ssize_t)syscall(SYS_recvfrom, fd, p, n, flags, NULL, NULL);
}

static inline ssize_t bsys_send(int fd, const void *p, size_t n, int flags) {
  return (ssize_t)syscall(SYS_sendto, fd, p, n, flags, NULL, 0);
}

static inline ssize_t bsys_writev(int fd, const struct iovec *iov, int k) {
  return (ssize_t)syscall(SYS_writev, fd, iov, k);
}

static inline int bsys_connect(int fd, const struct sockaddr *to,
                               socklen_t len) {
  return (int)syscall(SYS_connect, fd, to, len);
}

static inline int bsys_close(int fd) {
  return (int)syscall(SYS_close, fd);
}

/* epoll_pwait with no signal mask is epoll_wait (and the only form some
 * architectures have). */
static inline int bsys_epoll_wait(int ep, struct epoll_event *evs, int max,
                                  int timeout_ms) {
  return (int)syscall(SYS_epoll_pwait, ep, evs, max, timeout_ms, NULL,
                      (size_t)8);
}

#endif
