// Which periodic duties of a process are due, on an injected clock: the pure half of the one
// cron a process runs (Redis's `serverCron` with `run_with_period`; the loop half is
// LinkRingServer's `Cron`, one libuv timer).
//
//   add("log sync", periodMs: 1000, firstDueMs: now + 1000) ─▶ id
//   takeDue(nowMs:) ─▶ the ids due at `nowMs`, in the order they were added; each one is
//                      due again `periodMs` after `nowMs` (fixed delay, as a repeating
//                      libuv timer: a late tick never runs a duty twice to catch up)
//   nextDueMs         ─▶ when the cron should wake next (nil: nothing to do)
//
// Unlike Redis's fixed 10 Hz tick, the cron wakes exactly when the earliest duty is due, so a
// duty's period may be anything (the proxy pings every 10 ms if told to) without a fast tick
// waking an idle process. Invariant: every period is positive.

package struct CronSchedule: Sendable {
    package struct Duty: Sendable, Equatable {
        package let id: Int
        /// What the duty does, for tests and logs ("server housekeeping").
        package let name: String
        package let periodMs: UInt64
        package fileprivate(set) var nextDueMs: UInt64
    }

    package private(set) var duties: [Duty] = []
    private var nextID = 0

    package init() {}

    /// Registers a duty first due at `firstDueMs`, then every `periodMs`; returns its id.
    package mutating func add(_ name: String, periodMs: UInt64, firstDueMs: UInt64) -> Int {
        precondition(periodMs > 0, "a periodic duty needs a positive period")
        let id = nextID
        nextID += 1
        duties.append(Duty(id: id, name: name, periodMs: periodMs, nextDueMs: firstDueMs))
        return id
    }

    /// Drops a duty (unknown ids are ignored: cancelling twice is harmless).
    package mutating func remove(_ id: Int) {
        duties.removeAll { $0.id == id }
    }

    /// The ids of the duties due at `nowMs`, in the order they were added, each rescheduled
    /// `periodMs` after `nowMs`.
    package mutating func takeDue(nowMs: UInt64) -> [Int] {
        var due: [Int] = []
        for position in duties.indices where duties[position].nextDueMs <= nowMs {
            due.append(duties[position].id)
            duties[position].nextDueMs = nowMs + duties[position].periodMs
        }
        return due
    }

    /// The earliest time a duty is due, or nil when there is none.
    package var nextDueMs: UInt64? { duties.map(\.nextDueMs).min() }
}
