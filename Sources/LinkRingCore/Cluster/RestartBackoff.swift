// The delay before the proxy runs a dead node's restart command again: doubling from a base,
// capped, so a node that cannot start is not restarted in a tight loop.

/// Exponential back-off between restarts of a node that stays down.
package enum RestartBackoff {
    /// The wait after attempt `attempt` (1, 2, …): base, 2×base, 4×base, … never above `maxMs`.
    package static func delayMs(after attempt: Int, baseMs: UInt64, maxMs: UInt64) -> UInt64 {
        let doublings = UInt64(min(max(attempt - 1, 0), 20))
        return min(baseMs << doublings, maxMs)
    }
}
