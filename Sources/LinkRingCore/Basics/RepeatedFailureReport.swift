// Rate-limited reporting of a failure that repeats: a full disk refusing every commit batch,
// accept out of file descriptors. One line per failure would flood the log exactly when the
// operator needs it (and, with the log on the full disk, make things worse), so:
//
//   first failure ─▶ `.started`                 (the caller logs the error itself)
//   more failures ─▶ counted; at most one `.continuing(count)` per `intervalMs`
//   a success     ─▶ `.ended(count)` if failures were seen: the episode is over
//
// Pure and clock-free: the caller passes its monotonic time, so tests need no sleeping.

package struct RepeatedFailureReport: Sendable, Equatable {
    /// What the caller should log for one event.
    package enum Line: Sendable, Equatable {
        /// The first failure of an episode: log it in full.
        case started
        /// `failures` more since the last line, over `periodMs`.
        case continuing(failures: Int, periodMs: UInt64)
        /// The episode is over after `failures` in all, over `durationMs`.
        case ended(failures: Int, durationMs: UInt64)
    }

    package let intervalMs: UInt64
    /// True from the first failure until the next success.
    package private(set) var isFailing = false
    private var startedMs: UInt64 = 0
    private var lastLineMs: UInt64 = 0
    private var unreported = 0
    private var total = 0

    package init(intervalMs: UInt64 = Limits.repeatedFailureLogIntervalMs) {
        self.intervalMs = intervalMs
    }

    /// Counts `count` failures at `nowMs`; returns the line to log, if one is due.
    package mutating func failed(_ count: Int = 1, nowMs: UInt64) -> Line? {
        total += count
        guard isFailing else {
            isFailing = true
            startedMs = nowMs
            lastLineMs = nowMs
            return .started
        }
        unreported += count
        guard nowMs >= lastLineMs + intervalMs else { return nil }
        defer {
            unreported = 0
            lastLineMs = nowMs
        }
        return .continuing(failures: unreported, periodMs: nowMs - lastLineMs)
    }

    /// Notes a success at `nowMs`; returns `.ended` when it closes an episode of failures.
    package mutating func succeeded(nowMs: UInt64) -> Line? {
        guard isFailing else { return nil }
        defer {
            isFailing = false
            unreported = 0
            total = 0
        }
        return .ended(failures: total, durationMs: nowMs - startedMs)
    }
}
