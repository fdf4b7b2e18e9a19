#ifndef SWIFTVIRT_CSENDFD_H
#define SWIFTVIRT_CSENDFD_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Sends `len` bytes of `buf` on the unix socket `sock` with descriptor `fd` attached (SCM_RIGHTS), as QMP's
/// `getfd` expects it. Returns the number of bytes sent (at least 1 on success), or -1 with errno set.
ssize_t swiftvirt_send_with_fd(int sock, const void *buf, size_t len, int fd);

/// Reads up to `len` bytes from the unix socket `sock` without blocking, with the descriptors that come with
/// them (SCM_RIGHTS, close-on-exec): at most `maxfds` are stored in `fds` and their number in `*nfds` (extra
/// ones are closed). Returns the number of bytes read, 0 at end of stream, or -1 with errno set.
ssize_t swiftvirt_recv_with_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds);

/// A non-blocking, close-on-exec eventfd (counter 0) for waking a thread that polls; -1 with errno set.
int swiftvirt_eventfd(void);

/// The CPUID instruction's EAX, EBX, ECX, EDX for `leaf` and `subleaf` on the calling CPU, in `out`; returns 0,
/// or -1 (and zeros) where the leaf is beyond what the CPU reports or the machine is not x86.
int swiftvirt_cpuid(unsigned int leaf, unsigned int subleaf, unsigned int out[4]);

#ifdef __cplusplus
}
#endif

#endif
