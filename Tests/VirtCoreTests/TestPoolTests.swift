import Foundation
import Synchronization
import Testing
import VirtTestSupport

/// The test process's own task pool (Tests/CTestPool): installed, and wider than a 2-CPU machine's Swift pool.
@Suite("test process: Swift tasks run on a pool wider than the CPUs")
struct TestPoolTests {
    @Test("three tasks that block their threads all run at once")
    func blockingTasksRunTogether() async throws {
        #expect(TestPool.width >= 6 || ProcessInfo.processInfo.environment["SWIFTVIRT_TEST_THREADS"] != nil)
        // Each task blocks its thread until all three have arrived; on a pool of two threads the third never
        // starts and the first two give up after the time limit.
        final class Arrivals: Sendable { let count = Mutex(0) }
        let arrivals = Arrivals()
        let met = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    arrivals.count.withLock { $0 += 1 }
                    let end = Date().addingTimeInterval(300)
                    while arrivals.count.withLock({ $0 }) < 3 {
                        if Date() > end { return false }
                        usleep(10_000)
                    }
                    return true
                }
            }
            var all = true
            for await ok in group { all = all && ok }
            return all
        }
        #expect(met)
    }
}
