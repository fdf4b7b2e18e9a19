import CTestPool

/// The thread pool the test process runs Swift tasks on (Tests/CTestPool/ctestpool.c): wider than Swift's own
/// one thread per CPU, so tests that block their thread (a child process run to completion) do not stop all the
/// others. `SWIFTVIRT_TEST_THREADS` sets its width; 0 keeps Swift's own executor.
public enum TestPool {
    /// The pool's width; 0 when Swift's own global executor runs the tasks.
    public static var width: Int { Int(swiftvirt_test_pool_width()) }
}
