#ifndef CTESTPOOL_H
#define CTESTPOOL_H

/// The number of threads the test process runs Swift tasks on (see ctestpool.c); 0 when Swift's own global
/// executor is in use (the hook could not be installed, or SWIFTVIRT_TEST_THREADS=0).
int swiftvirt_test_pool_width(void);

#endif
