#ifndef SWIFTVIRT_CETHTOOL_H
#define SWIFTVIRT_CETHTOOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The offload features of network interface `ifname` that libvirt's node devices list, as bits in libvirt's
/// order: rx 0, tx 1, sg 2, tso 3, gso 4, gro 5, lro 6, rxvlan 7, txvlan 8, ntuple 9, rxhash 10, txudptnl 11.
/// A query the interface does not answer leaves its bit clear. Returns 0, or -1 with errno when no socket
/// could be opened.
int swiftvirt_netdev_features(const char *ifname, uint32_t *features);

#ifdef __cplusplus
}
#endif

#endif
