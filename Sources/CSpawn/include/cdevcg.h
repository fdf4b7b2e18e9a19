#ifndef SWIFTVIRT_CDEVCG_H
#define SWIFTVIRT_CDEVCG_H

#ifdef __cplusplus
extern "C" {
#endif

/// One allowed device for a cgroup v2 device filter: type 'c' or 'b', major and minor (-1: any), access
/// bits as BPF_DEVCG_ACC_* (mknod 1, read 2, write 4).
struct swiftvirt_dev_rule {
    char type;
    int major;
    int minor;
    int access;
};

/// Loads a BPF_PROG_TYPE_CGROUP_DEVICE program that allows exactly `rules` (everything else denied) and
/// attaches it to the cgroup v2 directory `dir` (libvirt's device ACL on cgroup v2). 0, or an errno value.
int swiftvirt_devcg_attach(const char *dir, const struct swiftvirt_dev_rule *rules, int n);

/// The number of device programs attached to the cgroup v2 directory `dir`, or -errno.
int swiftvirt_devcg_count(const char *dir);

#ifdef __cplusplus
}
#endif

#endif
