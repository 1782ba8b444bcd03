// The graceful stop both executables share, on SIGTERM or SIGINT:
//
//   stop accepting ─▶ idle connections close, busy ones after their answer ─▶ `afterConnections`
//   (the node drains and syncs its log; the proxy closes its node pools) ─▶ timers and signal
//   watchers close ─▶ the loop has nothing left and `run()` returns ─▶ exit 0
//
// A second signal, or `deadlineMs` after the first, closes every connection at once.

import LinkRingCore
import LinkRingUV

package final class GracefulShutdown {
    private let loop: EventLoop
    private let server: HTTPServer
    private let deadlineMs: UInt64
    private let afterConnections: (@escaping () -> Void) -> Void
    private var watchers: [SignalWatcher] = []
    private var deadline: Timer?
    private var isStopping = false

    /// `afterConnections` runs once every client connection is closed and calls its argument
    /// when it has finished.
    package init(loop: EventLoop, server: HTTPServer, deadlineMs: UInt64,
                afterConnections: @escaping (@escaping () -> Void) -> Void) {
        self.loop = loop
        self.server = server
        self.deadlineMs = deadlineMs
        self.afterConnections = afterConnections
    }

    package func watchSignals() throws {
        for signal in [SignalWatcher.terminate, SignalWatcher.interrupt] {
            watchers.append(try SignalWatcher(loop: loop, signal: signal) { [unowned self] in self.begin() })
        }
    }

    private func begin() {
        if isStopping {
            Log.warning("second signal: closing every connection now")
            server.closeAll()
            return
        }
        isStopping = true
        Log.info("stopping: no new connections, finishing requests in flight")
        let deadline = Timer(loop: loop)
        deadline.start(afterMs: deadlineMs) { [unowned self] in
            Log.warning("shutdown deadline passed: closing every connection")
            self.server.closeAll()
        }
        self.deadline = deadline
        server.stop { [unowned self] in
            self.afterConnections { [unowned self] in self.finish() }
        }
    }

    private func finish() {
        deadline?.close()
        deadline = nil
        for watcher in watchers { watcher.close() }
        watchers.removeAll()
    }
}
