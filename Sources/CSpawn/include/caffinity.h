#ifndef SWIFTVIRT_CAFFINITY_H
#define SWIFTVIRT_CAFFINITY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Sets the CPU affinity of thread or process `tid` to the CPUs set in `map` (libvirt's CPU map layout: CPU n is
/// bit n % 8 of byte n / 8; `len` bytes, at most 128). Returns 0, or -1 with errno set.
int swiftvirt_set_affinity(pid_t tid, const uint8_t *map, size_t len);

/// Reads the CPU affinity of `tid` into `map` (`len` bytes, zero-filled first). Returns 0, or -1 with errno.
int swiftvirt_get_affinity(pid_t tid, uint8_t *map, size_t len);

#ifdef __cplusplus
}
#endif

#endif
