// Background work that shares the machine with the foreground runs in short pieces, each
// followed by a pause that holds it to a share of the time. At a membership change every node
// re-partitions its index at the same moment (a snapshot and an apply on the loop, ring
// lookups on the thread pool): done as fast as each node could, five nodes took more than a
// core of a two-core machine for a few hundred milliseconds, the slowest second of every move.
//
//   piece took W ─▶ pause W × (100 − percent) / percent (at least `minimumMs`: the loop polls
//   its sockets between two pieces) ─▶ next piece
//
// Work that every process begins at the same moment (the nodes told of a change) also begins
// staggered: by the process's position in an order they all share, within a bounded span.
//
// Pure: the caller measures each piece and starts the next after the pause.

package enum DutyCycle {
    /// The pause after a piece of work that took `workNs`, so that the work takes `percent` of
    /// the time (1–100); at least `minimumMs`, rounded up to whole milliseconds (a timer's unit).
    package static func pauseMs(afterWorkNs workNs: UInt64, percent: UInt64, minimumMs: UInt64 = 1) -> UInt64 {
        let share = min(max(percent, 1), 100)
        let pauseNs = min(workNs, UInt64(UInt32.max) * 1_000_000) * (100 - share) / share
        return max(minimumMs, (pauseNs + 999_999) / 1_000_000)
    }

    /// The delay before the share of the process at `position` (0-based) of an order every
    /// process knows alike: `stepMs` per position, in `steps` steps that then repeat, so the
    /// last begins at most (steps − 1) × stepMs after the first however many there are.
    package static func staggerMs(position: Int, stepMs: UInt64, steps: Int) -> UInt64 {
        UInt64(max(position, 0) % max(steps, 1)) * stepMs
    }
}
