// Green I/O: libc's signatures and -1/errno results, but only the calling
// fiber waits. Outside a hub fiber each call is the plain libc call.
//
// Deadline variants take a timeout and fail with ETIMEDOUT when it passes
// (the kernel cancels the operation; nothing is left in flight). A fiber whose
// handle calls cancel() gets ECANCELED from the wait it is in.
//
// Threading: like libc; a call suspends only the fiber that made it.
#pragma once
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>

namespace unclog::io {

using Timeout = std::chrono::nanoseconds;

ssize_t read(int fd, void* buf, size_t count);
ssize_t write(int fd, const void* buf, size_t count);
ssize_t recv(int fd, void* buf, size_t len, int flags);
ssize_t send(int fd, const void* buf, size_t len, int flags);
int accept(int fd, sockaddr* addr, socklen_t* addrlen);
int connect(int fd, const sockaddr* addr, socklen_t addrlen);
int close(int fd);

ssize_t read(int fd, void* buf, size_t count, Timeout timeout);
ssize_t write(int fd, const void* buf, size_t count, Timeout timeout);
ssize_t recv(int fd, void* buf, size_t len, int flags, Timeout timeout);
ssize_t send(int fd, const void* buf, size_t len, int flags, Timeout timeout);
int accept(int fd, sockaddr* addr, socklen_t* addrlen, Timeout timeout);
int connect(int fd, const sockaddr* addr, socklen_t addrlen, Timeout timeout);

// Waits until `fd` is ready for `events` (POLLIN, POLLOUT, ...). Returns the
// ready events (>0), or -1 with errno (ETIMEDOUT, ECANCELED, ...).
int poll(int fd, short events);
int poll(int fd, short events, Timeout timeout);

// --- files: io_uring operations (the epoll backend runs them on the
// offload pool). Regular files too: these are the calls that stall a loop
// when the disk is slow or remote. libc's signatures and -1/errno results.
int open(const char* path, int flags, mode_t mode = 0);
int openat(int dirfd, const char* path, int flags, mode_t mode = 0);
ssize_t pread(int fd, void* buf, size_t count, off_t offset);
ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset);
int fsync(int fd);
int fdatasync(int fd);
int statx(int dirfd, const char* path, int flags, unsigned mask, struct ::statx* out);
int unlink(const char* path);
int rename(const char* oldpath, const char* newpath);
int mkdir(const char* path, mode_t mode);

// --- names: getaddrinfo's signature and results (EAI_* codes; free the list
// with freeaddrinfo), run on the offload pool so that only the calling
// fiber waits; NSS (files, DNS, mDNS, LDAP...) answers as it would to
// getaddrinfo. The deadline variant returns EAI_SYSTEM with errno
// ETIMEDOUT when it passes (the lookup goes on on the pool, its answer
// freed); a cancelled fiber gets EAI_SYSTEM with errno ECANCELED.
int resolve(const char* node, const char* service, const addrinfo* hints, addrinfo** res);
int resolve(const char* node, const char* service, const addrinfo* hints, addrinfo** res, Timeout timeout);

// Name of the backend this thread's hub uses ("io_uring"), or "" outside one.
const char* backend_name() noexcept;

}  // namespace unclog::io
