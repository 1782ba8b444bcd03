// Log destinations of a process, and SIGHUP.
//
//   event lines ─▶ stderr, or --log-file (stderr is pointed at the file, so nothing else changes)
//   requests    ─▶ --access-log: one line each, buffered in memory, written off the loop
//                  (uv_fs_write) per `Limits.accessLogFlushBytes`, or by the process's cron every
//                  `Limits.accessLogFlushIntervalMs`
//   SIGHUP      ─▶ both files reopened (logrotate moved them), then the process's own reload
//
// The access-log buffer is bounded (`Limits.accessLogBufferBytesMax`): when the disk cannot keep up, lines are
// dropped and counted, never queued without limit. A write that fails (a full disk) loses its
// lines; the failures are logged rate-limited (`RepeatedFailureReport`), not one ERROR a flush.

import LinkRingCore
import LinkRingUV

package final class LogFiles {
    private let loop: EventLoop
    private let options: LoggingOptions
    package private(set) var accessLog: AccessLog?
    private var hangUp: SignalWatcher?
    /// Runs after each SIGHUP's reopen: the process's own reload.
    package var onHangUp: () -> Void

    /// Points stderr at --log-file and opens --access-log. `onHangUp` runs after a reopen.
    package init(loop: EventLoop, options: LoggingOptions, cron: Cron, onHangUp: @escaping () -> Void = {}) throws {
        self.loop = loop
        self.options = options
        self.onHangUp = onHangUp
        if let path = options.logFile { try StandardError.redirect(toFile: path) }
        if let path = options.accessLog { accessLog = try AccessLog(loop: loop, path: path, cron: cron) }
        hangUp = try SignalWatcher(loop: loop, signal: SignalWatcher.hangUp) { [unowned self] in
            self.reopen()
            self.onHangUp()
        }
    }

    /// Each file says for itself whether it was reopened: a failure is never followed by a
    /// line that claims success. The access log reopens between two of its writes, so it
    /// reports when that happens.
    private func reopen() {
        if let path = options.logFile {
            do {
                try StandardError.redirect(toFile: path)
                Log.info("SIGHUP: log file \(path) reopened")
            } catch {
                Log.error("SIGHUP: \(error); still writing to the old log file")
            }
        }
        accessLog?.reopen()
    }

    /// Flushes and closes (shutdown).
    package func close() {
        hangUp?.close()
        hangUp = nil
        accessLog?.close()
        accessLog = nil
    }
}

package final class AccessLog {
    private let loop: EventLoop
    private let path: String
    private var file: AppendOnlyFile
    private var buffer: [UInt8] = []
    private let cron: Cron
    private var flushDuty: CronDuty?
    private var needsReopen = false
    private var writeFailures = RepeatedFailureReport()
    private(set) var droppedLines = 0

    init(loop: EventLoop, path: String, cron: Cron) throws {
        self.loop = loop
        self.path = path
        self.cron = cron
        file = try AppendOnlyFile(loop: loop, path: path)
        flushDuty = cron.every(Limits.accessLogFlushIntervalMs, "access-log flush") { self.flush() }
    }

    /// `TIME METHOD TARGET STATUS BYTES MICROSECONDS`.
    func record(method: HTTPMethod, target: [UInt8], status: Int, bytes: Int, microseconds: UInt64) {
        guard buffer.count < Limits.accessLogBufferBytesMax else {
            droppedLines += 1
            return
        }
        buffer += Array("\(Timestamp.iso8601(unixMs: WallClock.nowMs())) \(Self.name(method)) ".utf8)
        buffer += target
        buffer += Array(" \(status) \(bytes) \(microseconds)\n".utf8)
        if buffer.count >= Limits.accessLogFlushBytes { flush() }
    }

    private static func name(_ method: HTTPMethod) -> String {
        switch method {
        case .get: "GET"
        case .head: "HEAD"
        case .put: "PUT"
        case .delete: "DELETE"
        case .post: "POST"
        default: "OTHER"
        }
    }

    func reopen() {
        needsReopen = true
        flush()
    }

    private func flush() {
        guard !file.isBusy else { return }
        if needsReopen {
            needsReopen = false
            do {
                let reopened = try AppendOnlyFile(loop: loop, path: path)
                closeFile()
                file = reopened
                Log.info("SIGHUP: access log \(path) reopened")
            } catch {
                Log.error("SIGHUP: access log: \(error); still writing to the old file")
            }
        }
        guard !buffer.isEmpty else { return }
        let bytes = buffer
        buffer.removeAll(keepingCapacity: true)
        file.append(bytes, sync: false) { [unowned self] error in
            self.report(error)
            if self.buffer.count >= Limits.accessLogFlushBytes { self.flush() }
        }
    }

    private func report(_ error: UVError?) {
        guard let error else {
            return Log.recovery(&writeFailures, nowMs: loop.nowMs) { failures, _ in "access log: writing again after \(failures) failed writes" }
        }
        Log.failure(&writeFailures, nowMs: loop.nowMs, first: "access log: \(error); its lines are lost until a write succeeds",
                    summary: { failures, _ in "access log: \(failures) more failed writes: \(error)" })
    }

    private func closeFile() {
        do {
            try file.closeBlocking()
        } catch {
            Log.error("access log: \(error)")
        }
    }

    func close() {
        if let flushDuty { cron.cancel(flushDuty) }
        flushDuty = nil
        if !file.isBusy && !buffer.isEmpty { try? file.appendBlocking(buffer) }
        if droppedLines > 0 { Log.warning("access log: \(droppedLines) line(s) dropped (the disk could not keep up)") }
        closeFile()
    }
}
