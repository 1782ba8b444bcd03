// Pure Swift work on libuv's thread pool, its result handed back on the loop: for a
// computation too long for one loop turn (re-partitioning a large index at a membership
// change: 30–80 ms of the loop at 600k keys). The work closure gets Sendable inputs by value
// and returns a Sendable result; it must touch nothing the loop owns. `done` runs on the loop
// once the pool is through (nil when the work could not be queued).
//
// The C callbacks are top-level functions outside main.swift (SWIFT-LIBUV.md); the job keeps
// itself alive (one retain in the request's `data`) until its `done` has run.

import CUV

/// The part of a pool job the C callbacks see.
package class PoolJob: @unchecked Sendable {
    let request = UnsafeMutablePointer<uv_work_t>.allocate(capacity: 1)

    /// On a pool thread.
    func runOffLoop() {}
    /// On the loop, after `runOffLoop` (or instead of it, when it was cancelled).
    func finishOnLoop(ran: Bool) {}
}

package final class PoolWork<Result: Sendable>: PoolJob, @unchecked Sendable {
    private let work: @Sendable () -> Result
    /// Touched on the loop only.
    private let done: (Result?) -> Void
    /// Written by the pool thread, read on the loop after libuv's hand-over.
    private var result: Result?

    private init(work: @escaping @Sendable () -> Result, done: @escaping (Result?) -> Void) {
        self.work = work
        self.done = done
    }

    /// Queues `work` on the pool; `done` gets its result on the loop (nil if it could not run).
    package static func start(on loop: EventLoop, _ work: @escaping @Sendable () -> Result, done: @escaping (Result?) -> Void) {
        let job = PoolWork(work: work, done: done)
        job.request.pointee.data = Unmanaged.passRetained(job as PoolJob).toOpaque()
        guard uv_queue_work(loop.loop, job.request, poolJobRun, poolJobDone) == 0 else {
            Unmanaged<PoolJob>.fromOpaque(job.request.pointee.data).release()
            job.request.deallocate()
            return done(nil)
        }
    }

    override func runOffLoop() { result = work() }

    override func finishOnLoop(ran: Bool) {
        request.deallocate()
        done(ran ? result : nil)
    }
}

private func poolJobRun(_ request: UnsafeMutablePointer<uv_work_t>?) {
    Unmanaged<PoolJob>.fromOpaque(request!.pointee.data).takeUnretainedValue().runOffLoop()
}

private func poolJobDone(_ request: UnsafeMutablePointer<uv_work_t>?, _ status: Int32) {
    Unmanaged<PoolJob>.fromOpaque(request!.pointee.data).takeRetainedValue().finishOnLoop(ran: status == 0)
}
