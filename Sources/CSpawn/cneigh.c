#include "cneigh.h"

#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Whether the messages in buf[0..n) end the dump (NLMSG_DONE or NLMSG_ERROR among them). */
static int dump_ended(const uint8_t *buf, size_t n) {
    size_t off = 0;
    while (off + sizeof(struct nlmsghdr) <= n) {
        const struct nlmsghdr *h = (const struct nlmsghdr *)(const void *)(buf + off);
        if (h->nlmsg_len < sizeof(struct nlmsghdr)) return 1;
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) return 1;
        off += NLMSG_ALIGN(h->nlmsg_len);
    }
    return 0;
}

int swiftvirt_neigh_dump(uint8_t **out, size_t *len) {
    *out = NULL;
    *len = 0;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -1;
    struct {
        struct nlmsghdr h;
        struct ndmsg nd;
    } req;
    memset(&req, 0, sizeof(req));
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
    req.h.nlmsg_type = RTM_GETNEIGH;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = 1;
    req.nd.ndm_family = AF_UNSPEC;
    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof(kernel));
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    size_t cap = 65536, used = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        if (cap - used < 32768) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                close(fd);
                errno = ENOMEM;
                return -1;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = recv(fd, buf + used, cap - used, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return -1;
        }
        if (n == 0) break;
        int ended = dump_ended(buf + used, (size_t)n);
        used += (size_t)n;
        if (ended) break;
    }
    close(fd);
    *out = buf;
    *len = used;
    return 0;
}
