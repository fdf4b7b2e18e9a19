// cgroup v2 device filtering: a BPF program per group, as libvirt attaches on cgroup v2 (vircgroupv2devices.c)
// for its device ACL. The program is generated from the allow list (a comparison chain, no map).
#define _GNU_SOURCE
#include "cdevcg.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long bpf(int cmd, union bpf_attr *attr) { return syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

int swiftvirt_devcg_attach(const char *dir, const struct swiftvirt_dev_rule *rules, int n) {
    if (n < 0 || n > 256) return EINVAL;
    // r2 = type (low 16 bits of access_type), r3 = access (high 16 bits), r4 = major, r5 = minor.
    struct bpf_insn prog[16 + 256 * 8];
    int k = 0;
    prog[k++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
    prog[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0);
    prog[k++] = INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
    prog[k++] = INSN(BPF_ALU64 | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
    prog[k++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major), 0);
    prog[k++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
    for (int i = 0; i < n; i++) {
        const struct swiftvirt_dev_rule *r = &rules[i];
        int type = r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
        // Each rule is a block of `len` instructions; every failing test jumps to the next block (a jump's
        // offset counts from the instruction after it).
        int len = 1 + (r->major >= 0 ? 1 : 0) + (r->minor >= 0 ? 1 : 0) + 5;
        int at = 0;
        prog[k++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, len - ++at, type);
        if (r->major >= 0) prog[k++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, len - ++at, r->major);
        if (r->minor >= 0) prog[k++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, len - ++at, r->minor);
        prog[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_0, BPF_REG_3, 0, 0);
        prog[k++] = INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_0, 0, 0, ~r->access & 0x7);
        prog[k++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 2, 0);
        prog[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
        prog[k++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    }
    prog[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
    prog[k++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)prog;
    attr.insn_cnt = (uint32_t)k;
    attr.license = (uint64_t)(uintptr_t)"GPL";
    int progfd = (int)bpf(BPF_PROG_LOAD, &attr);
    if (progfd < 0) return errno;
    int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0) {
        int e = errno;
        close(progfd);
        return e;
    }
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cg;
    attr.attach_bpf_fd = (uint32_t)progfd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    int rc = (int)bpf(BPF_PROG_ATTACH, &attr);
    int e = rc < 0 ? errno : 0;
    close(cg);
    close(progfd);
    return e;
}

int swiftvirt_devcg_count(const char *dir) {
    int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0) return -errno;
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (uint32_t)cg;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    int rc = (int)bpf(BPF_PROG_QUERY, &attr);
    int e = errno;
    close(cg);
    if (rc < 0) return -e;
    return (int)attr.query.prog_cnt;
}
