// Event log lines for operators: `2026-11-24T23:40:56.123Z INFO message`, one per event, to
// stderr. Nothing logs per request (that would cost more than the request). A failure that
// repeats goes through `failure`/`recovery` with its `RepeatedFailureReport`: one ERROR line
// when it starts, at most one counted summary per interval, one INFO line when it ends.

import LinkRingCore
import LinkRingUV

package enum Log {
    package enum Level: String, Sendable {
        case debug = "DEBUG", info = "INFO", warning = "WARN", error = "ERROR"
    }

    package static func info(_ message: String) { write(.info, message) }
    package static func warning(_ message: String) { write(.warning, message) }
    package static func error(_ message: String) { write(.error, message) }

    package static func write(_ level: Level, _ message: String) {
        Output.printError("\(Timestamp.iso8601(unixMs: WallClock.nowMs())) \(level.rawValue) \(message)")
    }

    /// Counts `count` failures in `report`; logs `first` (as ERROR, or `level`) when they start, and
    /// `summary(failures since the last line, seconds)` when one is due.
    package static func failure(_ report: inout RepeatedFailureReport, count: Int = 1, nowMs: UInt64, level: Level = .error,
                               first: @autoclosure () -> String, summary: (Int, UInt64) -> String) {
        switch report.failed(count, nowMs: nowMs) {
        case .started: write(level, first())
        case .continuing(let failures, let periodMs): write(level, summary(failures, periodMs / 1000))
        case .ended, nil: break
        }
    }

    /// Notes a success in `report`; logs `line(failures in all, milliseconds)` as INFO if it
    /// ends an episode of failures.
    package static func recovery(_ report: inout RepeatedFailureReport, nowMs: UInt64, _ line: (Int, UInt64) -> String) {
        guard report.isFailing, case .ended(let failures, let durationMs) = report.succeeded(nowMs: nowMs) else { return }
        info(line(failures, durationMs))
    }
}
