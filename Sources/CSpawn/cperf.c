#define _GNU_SOURCE
#include "cperf.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int swiftvirt_perf_open(uint32_t type, uint64_t config, pid_t pid, int *stage) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = type;
    attr.config = config;
    attr.inherit = 1;
    attr.disabled = 1;
    attr.enable_on_exec = 0;
    *stage = 0;
    int fd = (int)syscall(__NR_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) return -1;
    if (ioctl(fd, PERF_EVENT_IOC_ENABLE) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        *stage = 1;
        return -1;
    }
    return fd;
}

int swiftvirt_perf_read(int fd, uint64_t *value) {
    uint64_t v = 0;
    ssize_t n = read(fd, &v, sizeof(v));
    if (n != (ssize_t)sizeof(v)) {
        if (n >= 0) errno = EIO;
        return -1;
    }
    *value = v;
    return 0;
}
