#include "cethtool.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int ethtool_cmd(int fd, const char *ifname, void *data) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_data = data;
    return ioctl(fd, SIOCETHTOOL, &ifr);
}

static int value(int fd, const char *ifname, uint32_t cmd, uint32_t *out) {
    struct ethtool_value v = { .cmd = cmd, .data = 0 };
    if (ethtool_cmd(fd, ifname, &v) < 0) return -1;
    *out = v.data;
    return 0;
}

int swiftvirt_netdev_features(const char *ifname, uint32_t *features) {
    *features = 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const uint32_t simple[] = { ETHTOOL_GRXCSUM, ETHTOOL_GTXCSUM, ETHTOOL_GSG, ETHTOOL_GTSO, ETHTOOL_GGSO,
                                ETHTOOL_GGRO };
    for (unsigned i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        uint32_t v;
        if (value(fd, ifname, simple[i], &v) == 0 && v) *features |= 1u << i;
    }
    uint32_t flags;
    if (value(fd, ifname, ETHTOOL_GFLAGS, &flags) == 0) {
        const uint32_t bits[] = { ETH_FLAG_LRO, ETH_FLAG_RXVLAN, ETH_FLAG_TXVLAN, ETH_FLAG_NTUPLE, ETH_FLAG_RXHASH };
        for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
            if (flags & bits[i]) *features |= 1u << (6 + i);
        }
    }
    /* libvirt reads bit 25 of the generic feature set as "tx-udp_tnl-segmentation". */
    struct {
        struct ethtool_gfeatures head;
        struct ethtool_get_features_block blocks[2];
    } gf;
    memset(&gf, 0, sizeof(gf));
    gf.head.cmd = ETHTOOL_GFEATURES;
    gf.head.size = 2;
    if (ethtool_cmd(fd, ifname, &gf) == 0 && (gf.blocks[0].active & (1u << 25))) *features |= 1u << 11;
    close(fd);
    return 0;
}
