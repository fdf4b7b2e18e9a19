#define _GNU_SOURCE
#include "caffinity.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

int swiftvirt_set_affinity(pid_t tid, const uint8_t *map, size_t len)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    for (size_t i = 0; i < len && i * 8 < CPU_SETSIZE; i++) {
        for (int bit = 0; bit < 8; bit++) {
            if (map[i] & (1u << bit)) CPU_SET(i * 8 + bit, &set);
        }
    }
    return sched_setaffinity(tid, sizeof(set), &set);
}

int swiftvirt_get_affinity(pid_t tid, uint8_t *map, size_t len)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(tid, sizeof(set), &set) < 0) return -1;
    memset(map, 0, len);
    for (size_t cpu = 0; cpu < CPU_SETSIZE && cpu / 8 < len; cpu++) {
        if (CPU_ISSET(cpu, &set)) map[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
    }
    return 0;
}
