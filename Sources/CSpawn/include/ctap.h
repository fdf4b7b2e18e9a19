#ifndef SWIFTVIRT_CTAP_H
#define SWIFTVIRT_CTAP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Opens /dev/net/tun and makes it the tap device `name` (IFF_TAP | IFF_NO_PI, as libvirt's tap devices
/// without multiqueue), close-on-exec. Returns the descriptor, or -1 with errno set.
int swiftvirt_tap_open(const char *name);

#ifdef __cplusplus
}
#endif

#endif
