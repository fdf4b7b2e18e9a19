#ifndef SWIFTVIRT_CNEIGH_H
#define SWIFTVIRT_CNEIGH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Dumps the kernel's neighbour tables of the calling thread's network namespace over rtnetlink (RTM_GETNEIGH,
/// NLM_F_DUMP, family AF_UNSPEC, as libvirt's virNetlinkGetNeighbor asks): every message the kernel sends,
/// concatenated as received, up to and including NLMSG_DONE (or an NLMSG_ERROR). On success `*out` is a
/// malloc'd buffer (free it) of `*len` bytes and 0 is returned; otherwise -1 with errno set.
int swiftvirt_neigh_dump(uint8_t **out, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
