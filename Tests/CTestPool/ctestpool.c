// The test process's global executor: Swift tasks run on a pool of SWIFTVIRT_TEST_THREADS threads (default:
// 3 per CPU, at least 6) instead of Swift's default pool of one thread per CPU.
//
// Why: many tests block the thread they run on (a virsh or python3-libvirt child run to completion, a
// reference libvirtd started and waited for). On a 2-CPU machine Swift's pool has 2 threads, so two such tests
// held every thread for minutes: nothing else ran, not even the unit tests, and a test waiting on work that
// needed the pool (an in-process driver, a stream) waited until its own time limit fired. CI logs showed
// dozens of tests "passed after 448 s" at one instant, and a whole run going past its time budget.
//
// How: the Swift runtime's hook swift_task_enqueueGlobal_hook (the same one SwiftNIO's
// unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor sets) receives every job for the
// global executor; it is queued here (FIFO) and run with swift_job_run on the generic executor, as
// libdispatch's pool runs it. Installed by a constructor before any test starts. Threads start on demand, up to
// the width, and stay. The width still bounds how many blocking tests run at once, so the machine is not
// flooded with guests.
#include "ctestpool.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct SwiftJob SwiftJob;
#define SWIFTCC __attribute__((swiftcall))
typedef SWIFTCC void (*EnqueueOriginal)(SwiftJob *);
typedef SWIFTCC void (*EnqueueHook)(SwiftJob *, EnqueueOriginal);
// swift_job_run(Job *, SerialExecutorRef): the executor reference is two words (identity, implementation),
// passed in two registers; the generic executor is both zero.
typedef SWIFTCC void (*JobRun)(SwiftJob *, void *, uintptr_t);

struct node {
    SwiftJob *job;
    struct node *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static struct node *head, *tail;
static int idle, threads, width;
static JobRun job_run;

static void *worker(void *unused) {
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (head == NULL) {
            idle++;
            pthread_cond_wait(&ready, &lock);
            idle--;
        }
        struct node *n = head;
        head = n->next;
        if (head == NULL) tail = NULL;
        pthread_mutex_unlock(&lock);
        job_run(n->job, NULL, 0);
        free(n);
        pthread_mutex_lock(&lock);
    }
    return NULL;
}

static SWIFTCC void enqueue(SwiftJob *job, EnqueueOriginal original) {
    struct node *n = malloc(sizeof *n);
    if (n == NULL) {
        original(job);
        return;
    }
    n->job = job;
    n->next = NULL;
    pthread_mutex_lock(&lock);
    if (idle == 0 && threads < width) {
        pthread_attr_t attr;
        pthread_t thread;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 8 << 20);
        if (pthread_create(&thread, &attr, worker, NULL) == 0) threads++;
        pthread_attr_destroy(&attr);
    }
    if (threads == 0) {
        // Not a single thread could be started: the runtime's own executor runs the job.
        pthread_mutex_unlock(&lock);
        free(n);
        original(job);
        return;
    }
    if (tail != NULL) tail->next = n; else head = n;
    tail = n;
    pthread_cond_signal(&ready);
    pthread_mutex_unlock(&lock);
}

int swiftvirt_test_pool_width(void) { return width; }

__attribute__((constructor)) static void install(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int w = cpus > 0 ? (int)cpus * 3 : 6;
    if (w < 6) w = 6;
    const char *env = getenv("SWIFTVIRT_TEST_THREADS");
    if (env != NULL && *env != '\0') w = atoi(env);
    if (w <= 0) return;
    void *self = dlopen(NULL, RTLD_NOW);
    if (self == NULL) return;
    EnqueueHook *hook = (EnqueueHook *)dlsym(self, "swift_task_enqueueGlobal_hook");
    job_run = (JobRun)dlsym(self, "swift_job_run");
    if (hook == NULL || job_run == NULL || *hook != NULL) return;
    width = w;
    *hook = enqueue;
}
