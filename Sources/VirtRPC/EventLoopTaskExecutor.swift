import NIOCore

/// A `TaskExecutor` that runs jobs on one NIO event loop. A client's calls run as tasks that prefer the
/// event loop of the client's channel: the call, the driver's default actors it awaits, and the write of its
/// reply all stay on that thread, with no hop to Swift's global pool and back (two thread wake-ups per call).
final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop jobs run on.
    let loop: any EventLoop

    /// An executor running jobs on `loop`.
    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        loop.execute { unowned.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
