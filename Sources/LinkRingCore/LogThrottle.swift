// Rate-limits one kind of log line: the first occurrence is logged at once, later ones at
// most once per interval, each with the count of occurrences passed over since the last line.
// A stream of refused requests (an attacker, a broken clock) then costs a few log lines a
// minute, not one per request, and the operator still sees that it goes on and how often.
// Pure: the caller passes the monotonic time, so tests need no clock.

public struct LogThrottle: Sendable {
    public let intervalMs: UInt64
    private var lastLoggedMs: UInt64? = nil
    private var passedOver = 0

    public init(intervalMs: UInt64 = Limits.refusalLogIntervalMs) {
        self.intervalMs = intervalMs
    }

    /// Records one occurrence at `nowMs`: nil when it is not to be logged, else the number of
    /// earlier occurrences that were not (to say "and N more").
    public mutating func occurrence(nowMs: UInt64) -> Int? {
        if let last = lastLoggedMs, nowMs < last + intervalMs {
            passedOver += 1
            return nil
        }
        lastLoggedMs = nowMs
        defer { passedOver = 0 }
        return passedOver
    }
}
