#ifndef SWIFTVIRT_CSPAWN_H
#define SWIFTVIRT_CSPAWN_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The step of the child's set-up that failed (reported with the errno).
enum swiftvirt_spawn_stage {
    SWIFTVIRT_SPAWN_OK = 0,
    /// Preparing in the parent (duplicating descriptors, the child's stack) or creating the child.
    SWIFTVIRT_SPAWN_PREPARE = 1,
    /// setsid.
    SWIFTVIRT_SPAWN_SETSID = 2,
    /// Placing the passed descriptors (dup3) or closing the others.
    SWIFTVIRT_SPAWN_FDS = 3,
    /// setgroups: the supplementary groups.
    SWIFTVIRT_SPAWN_SETGROUPS = 4,
    /// setresgid.
    SWIFTVIRT_SPAWN_SETGID = 5,
    /// setresuid.
    SWIFTVIRT_SPAWN_SETUID = 6,
    /// execve.
    SWIFTVIRT_SPAWN_EXEC = 7,
    /// Joining a cgroup (writing to a `cgroup.procs` descriptor).
    SWIFTVIRT_SPAWN_CGROUP = 8,
    /// Setting a resource limit (prlimit).
    SWIFTVIRT_SPAWN_RLIMIT = 9,
};

/// What to start and how.
struct swiftvirt_spawn_request {
    /// The binary to execute (no PATH search).
    const char *path;
    /// NULL-terminated argument vector (argv[0] included).
    char *const *argv;
    /// NULL-terminated environment.
    char *const *envp;
    /// fds[i] becomes descriptor i in the child (all must be open); every other descriptor is closed.
    const int *fds;
    int nfds;
    /// Non-zero: the child starts a new session (setsid).
    int new_session;
    /// Non-zero: the child takes uid, gid and groups (setgroups, setresgid, setresuid) before exec, and
    /// its capability bounding set is emptied when uid is not 0.
    int change_ids;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int ngroups;
    /// The child's umask, or -1 to keep the caller's.
    int umask;
    /// Non-zero: the signal the child gets when this process ends (PR_SET_PDEATHSIG, set before exec), for
    /// helpers that must not outlive their caller (capability probes), never for QEMUs that must outlive the
    /// daemon. The kernel sends it when the creating *thread* ends, so such children are created by a
    /// thread of this library's own that lives as long as the process.
    int parent_death_signal;
    /// Descriptors open for writing on `cgroup.procs` files: the child writes "0" (itself) into each before
    /// anything else, so it is in its cgroups before it executes (and before any thread exists).
    const int *cgroup_fds;
    int ncgroup_fds;
    /// Non-zero: the child's RLIMIT_MEMLOCK (soft and hard) becomes `memlock_bytes` before it drops its ids
    /// (~0ULL: unlimited).
    int set_memlock;
    unsigned long long memlock_bytes;
};

/// Starts a child as `req` says: a vfork-like clone (the caller's thread waits until the child has called
/// execve or failed), in which the child only makes raw system calls: it resets every signal disposition
/// to the default, starts a session, places the descriptors and closes all others, sets the umask, drops to
/// the requested ids, unblocks all signals and executes the binary.
///
/// Returns 0 and the child's pid in `*pid`; or an errno value, the failed step in `*stage`, and no child
/// left behind (a child that failed was already reaped; `*pid` is then its former pid, or -1 when none was
/// created), for messages only.
int swiftvirt_spawn(const struct swiftvirt_spawn_request *req, pid_t *pid, int *stage);

#ifdef __cplusplus
}
#endif

#endif
