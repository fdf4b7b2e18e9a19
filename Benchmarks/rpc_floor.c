/* The client floor of the remote-protocol benchmark: the least a server can do for one call. Answers every
 * CALL on a unix socket at once (auth list: none; supports_feature: no; get_hostname: a fixed name;
 * get_lib_version: a fixed number; anything else: an empty OK reply), one client at a time, with no event
 * loop, no threads and no allocation, so that a python3-libvirt client's time per call against it is the
 * client's own cost plus the kernel's. Usage: rpc_floor SOCKET_PATH */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

static int read_full(int fd, unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void put32(unsigned char *p, uint32_t v) { v = htonl(v); memcpy(p, &v, 4); }

static void serve(int fd) {
    static unsigned char in[4 + 4 * 1024 * 1024], out[256];
    for (;;) {
        if (read_full(fd, in, 4) < 0) return;
        uint32_t len;
        memcpy(&len, in, 4);
        len = ntohl(len);
        if (len < 28 || len > sizeof in) return;
        if (read_full(fd, in + 4, len - 4) < 0) return;
        uint32_t prog, proc, type;
        memcpy(&prog, in + 4, 4); memcpy(&proc, in + 12, 4); memcpy(&type, in + 16, 4);
        prog = ntohl(prog); proc = ntohl(proc); type = ntohl(type);
        if (type != 0) continue; /* only CALLs are answered */
        memcpy(out + 4, in + 4, 24); /* program, version, procedure, serial as in the call */
        put32(out + 16, 1);          /* REPLY */
        put32(out + 24, 0);          /* OK */
        size_t n = 28;
        if (prog == 0x20008086) {
            switch (proc) {
            case 66: put32(out + n, 1); put32(out + n + 4, 0); n += 8; break; /* auth list: none */
            case 60: put32(out + n, 0); n += 4; break;                      /* supports_feature: no */
            case 59: put32(out + n, 2); memcpy(out + n + 4, "vm\0\0", 4); n += 8; break;
            case 157: put32(out + n, 0); put32(out + n + 4, 9000000); n += 8; break;
            default: break;
            }
        }
        put32(out, (uint32_t)n);
        if (write(fd, out, n) != (ssize_t)n) return;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: rpc_floor SOCKET\n"); return 2; }
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
    unlink(argv[1]);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4) < 0) { perror("rpc_floor"); return 1; }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        serve(c);
        close(c);
    }
}
