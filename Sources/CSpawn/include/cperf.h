#ifndef SWIFTVIRT_CPERF_H
#define SWIFTVIRT_CPERF_H

#include <stdint.h>
#include <sys/types.h>

/// perf_event_open(2) for one event of process `pid` on any CPU, counting its threads (inherit), created
/// disabled and then enabled, as libvirt's virPerfEventEnable does. Returns the descriptor, or -1 with errno
/// and *stage 0 (open failed) or 1 (enable failed).
int swiftvirt_perf_open(uint32_t type, uint64_t config, pid_t pid, int *stage);

/// Reads the event's 64-bit count; -1 with errno on failure.
int swiftvirt_perf_read(int fd, uint64_t *value);

#endif
