// Process creation with a change of user between clone and exec (what posix_spawn cannot do: it has no
// setgroups/setuid step). The child shares the parent's memory until it executes (CLONE_VM|CLONE_VFORK, as
// glibc's and musl's posix_spawn do), so it must only make raw system calls: no allocation, no locks, no
// glibc wrapper that keeps process-wide state (glibc's setuid would signal the parent's threads).
#define _GNU_SOURCE
#include "cspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#endif
#ifndef PR_CAP_AMBIENT_CLEAR_ALL
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/// The kernel's struct sigaction (rt_sigaction), which differs from glibc's.
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

/// Shared by parent and child (CLONE_VM): the request, and what the child reports when a step fails.
struct spawn_context {
    const struct swiftvirt_spawn_request *req;
    /// Descriptors to place, all above the targets 0..nfds-1.
    const int *high;
    /// Highest descriptor to close when close_range is missing.
    int max_fd;
    /// The creating process (for the parent-death check).
    pid_t parent;
    volatile int error;
    volatile int stage;
};

static long sys(long nr, long a, long b, long c, long d) {
    long r = syscall(nr, a, b, c, d);
    return r < 0 ? -errno : r;
}

static __attribute__((noreturn)) void fail(struct spawn_context *ctx, int stage, long negerr) {
    ctx->error = (int)-negerr;
    ctx->stage = stage;
    syscall(SYS_exit_group, 127);
    __builtin_unreachable();
}

static int child_main(void *arg) {
    struct spawn_context *ctx = arg;
    const struct swiftvirt_spawn_request *req = ctx->req;
    long r;

    // Signal handlers of the parent must not run here (they would act on the parent's memory); ignored
    // signals become default ones too. Every signal is still blocked (the parent blocked them all).
    struct kernel_sigaction dfl = {0};
    dfl.handler = SIG_DFL;
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        sys(SYS_rt_sigaction, sig, (long)&dfl, 0, sizeof(uint64_t));
    }

    for (int i = 0; i < req->ncgroup_fds; i++) {
        if ((r = sys(SYS_write, req->cgroup_fds[i], (long)"0", 1, 0)) < 0) fail(ctx, SWIFTVIRT_SPAWN_CGROUP, r);
    }

    if (req->parent_death_signal > 0) {
        // Set first, then checked: had the parent already gone, the signal would never come.
        if ((r = sys(SYS_prctl, PR_SET_PDEATHSIG, req->parent_death_signal, 0, 0)) < 0)
            fail(ctx, SWIFTVIRT_SPAWN_PREPARE, r);
        if (sys(SYS_getppid, 0, 0, 0, 0) != ctx->parent) fail(ctx, SWIFTVIRT_SPAWN_PREPARE, -ESRCH);
    }

    if (req->new_session && (r = sys(SYS_setsid, 0, 0, 0, 0)) < 0) fail(ctx, SWIFTVIRT_SPAWN_SETSID, r);

    for (int i = 0; i < req->nfds; i++) {
        if ((r = sys(SYS_dup3, ctx->high[i], i, 0, 0)) < 0) fail(ctx, SWIFTVIRT_SPAWN_FDS, r);
    }
    r = sys(SYS_close_range, req->nfds, ~0U, 0, 0);
    if (r == -ENOSYS || r == -EINVAL) {
        for (int fd = req->nfds; fd <= ctx->max_fd; fd++) sys(SYS_close, fd, 0, 0, 0);
    } else if (r < 0) {
        fail(ctx, SWIFTVIRT_SPAWN_FDS, r);
    }

    if (req->umask >= 0) sys(SYS_umask, req->umask, 0, 0, 0);

    if (req->set_memlock) {
        // Raised while still privileged: an unprivileged process cannot raise its hard limit.
        struct { uint64_t cur, max; } lim = { req->memlock_bytes, req->memlock_bytes };
        if ((r = sys(SYS_prlimit64, 0, RLIMIT_MEMLOCK, (long)&lim, 0)) < 0) fail(ctx, SWIFTVIRT_SPAWN_RLIMIT, r);
    }

    if (req->change_ids) {
        if (req->uid != 0) {
            // Nothing of the daemon's privilege is to reach the new program: empty the bounding set (needs
            // CAP_SETPCAP; without it there is nothing to drop) and the ambient set; setresuid to a non-zero
            // uid then clears the permitted and effective sets (keep-caps off).
            for (long cap = 0; cap < 64; cap++) {
                r = sys(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0);
                if (r == -EINVAL || r == -EPERM) break;
            }
            sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0);
            sys(SYS_prctl, PR_SET_KEEPCAPS, 0, 0, 0);
        }
        if ((r = sys(SYS_setgroups, req->ngroups, (long)req->groups, 0, 0)) < 0)
            fail(ctx, SWIFTVIRT_SPAWN_SETGROUPS, r);
        if ((r = sys(SYS_setresgid, req->gid, req->gid, req->gid, 0)) < 0) fail(ctx, SWIFTVIRT_SPAWN_SETGID, r);
        if ((r = sys(SYS_setresuid, req->uid, req->uid, req->uid, 0)) < 0) fail(ctx, SWIFTVIRT_SPAWN_SETUID, r);
    }

    uint64_t none = 0;
    sys(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, sizeof(uint64_t));
    r = sys(SYS_execve, (long)req->path, (long)req->argv, (long)req->envp, 0);
    fail(ctx, SWIFTVIRT_SPAWN_EXEC, r);
}

static int spawn_here(const struct swiftvirt_spawn_request *req, pid_t *pid, int *stage) {
    *pid = -1;
    *stage = SWIFTVIRT_SPAWN_PREPARE;
    if (req->nfds < 0 || req->nfds > 1024 || (req->change_ids && req->ngroups < 0)) return EINVAL;

    // Every source moves above the targets, so placing one never overwrites another not yet placed.
    int high[req->nfds > 0 ? req->nfds : 1];
    int made = 0;
    int err = 0;
    for (; made < req->nfds; made++) {
        high[made] = fcntl(req->fds[made], F_DUPFD_CLOEXEC, req->nfds);
        if (high[made] < 0) {
            err = errno;
            break;
        }
    }
    struct rlimit rl;
    int max_fd = 65535;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 1048576)
        max_fd = (int)rl.rlim_cur - 1;

    const size_t stack_size = 64 * 1024;
    void *stack = MAP_FAILED;
    if (!err) {
        stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED) err = errno;
    }
    if (!err) {
        struct spawn_context ctx = {.req = req, .high = high, .max_fd = max_fd, .parent = getpid(),
                                   .error = 0, .stage = 0};
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        pid_t child = clone(child_main, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &ctx);
        int cloneErr = errno;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (child < 0) {
            err = cloneErr;
        } else if (ctx.error != 0) {
            // The child failed before or at execve and has exited: reap it, so nothing is left behind.
            err = ctx.error;
            *stage = ctx.stage;
            *pid = child;
            while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
        } else {
            *pid = child;
            *stage = SWIFTVIRT_SPAWN_OK;
        }
        munmap(stack, stack_size);
    }
    for (int i = 0; i < made; i++) close(high[i]);
    return err;
}

// The thread that creates children with a parent-death signal: started on first use, it never ends (the
// kernel signals such a child when the thread that created it exits, and the caller's thread, e.g. a worker
// of a thread pool, may end at any time).
static pthread_mutex_t keeper_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t keeper_cond = PTHREAD_COND_INITIALIZER;
static int keeper_started;
static const struct swiftvirt_spawn_request *keeper_req;
static pid_t keeper_pid;
static int keeper_stage;
static int keeper_result;
static int keeper_done;
/// One request at a time.
static pthread_mutex_t keeper_turn = PTHREAD_MUTEX_INITIALIZER;

static void *keeper_main(void *unused) {
    (void)unused;
    pthread_mutex_lock(&keeper_lock);
    for (;;) {
        while (keeper_req == NULL) pthread_cond_wait(&keeper_cond, &keeper_lock);
        const struct swiftvirt_spawn_request *req = keeper_req;
        pthread_mutex_unlock(&keeper_lock);
        pid_t pid = -1;
        int stage = SWIFTVIRT_SPAWN_PREPARE;
        int result = spawn_here(req, &pid, &stage);
        pthread_mutex_lock(&keeper_lock);
        keeper_pid = pid;
        keeper_stage = stage;
        keeper_result = result;
        keeper_req = NULL;
        keeper_done = 1;
        pthread_cond_broadcast(&keeper_cond);
    }
    return NULL;
}

int swiftvirt_spawn(const struct swiftvirt_spawn_request *req, pid_t *pid, int *stage) {
    if (req->parent_death_signal <= 0) return spawn_here(req, pid, stage);
    *pid = -1;
    *stage = SWIFTVIRT_SPAWN_PREPARE;
    pthread_mutex_lock(&keeper_turn);
    pthread_mutex_lock(&keeper_lock);
    if (!keeper_started) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        // Every signal blocked in the keeper: the process's handlers run on other threads.
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int err = pthread_create(&t, &attr, keeper_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (err != 0) {
            pthread_mutex_unlock(&keeper_lock);
            pthread_mutex_unlock(&keeper_turn);
            return err;
        }
        keeper_started = 1;
    }
    keeper_done = 0;
    keeper_req = req;
    pthread_cond_broadcast(&keeper_cond);
    while (!keeper_done) pthread_cond_wait(&keeper_cond, &keeper_lock);
    *pid = keeper_pid;
    *stage = keeper_stage;
    int result = keeper_result;
    pthread_mutex_unlock(&keeper_lock);
    pthread_mutex_unlock(&keeper_turn);
    return result;
}
