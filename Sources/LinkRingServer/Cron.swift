// The one periodic tick of a process (Redis's `serverCron`): every periodic duty of the node
// or the proxy registers here with a named period (`Limits.…IntervalMs` or an option), and one
// libuv timer wakes the loop when the earliest duty is due (CronSchedule, pure and tested on
// an injected clock).
//
//   node:  server housekeeping 100 ms · peer deadlines 100 ms · repair round --sync-interval-ms
//          · compaction check 1 s · everysec fdatasync 1 s · access-log flush 1 s
//   proxy: server housekeeping 100 ms · node deadlines 50 ms · ping --ping-interval-ms
//          · status table --status-interval-s · access-log flush 1 s
//
// One-shot delays (a retry after a failed recovery, the shutdown deadline, accept's pause)
// stay timers of their own: they are not periodic (docs/DECISIONS.md).
//
// The timer keeps the loop alive: the process closes the cron last, at the end of its
// shutdown. `close` drops every duty's closure, so duties may capture their owners strongly.
// A duty may add or cancel duties while it runs.

import LinkRingCore
import LinkRingUV

/// A registered duty; `Cron.cancel` stops it.
package struct CronDuty: Sendable, Equatable {
    fileprivate let id: Int
}

package final class Cron {
    private let loop: EventLoop
    private var timer: Timer?
    private var schedule = CronSchedule()
    private var actions: [Int: () -> Void] = [:]
    private var isTicking = false

    package init(loop: EventLoop) {
        self.loop = loop
        timer = Timer(loop: loop)
    }

    /// Runs `duty` every `periodMs`, first `firstAfterMs` from now (default: one period).
    @discardableResult
    package func every(_ periodMs: UInt64, _ name: String, firstAfterMs: UInt64? = nil, _ duty: @escaping () -> Void) -> CronDuty {
        let id = schedule.add(name, periodMs: periodMs, firstDueMs: loop.nowMs + (firstAfterMs ?? periodMs))
        actions[id] = duty
        if !isTicking { arm() }
        return CronDuty(id: id)
    }

    package func cancel(_ duty: CronDuty) {
        schedule.remove(duty.id)
        actions[duty.id] = nil
    }

    /// Stops every duty and closes the timer (the end of shutdown).
    package func close() {
        timer?.close()
        timer = nil
        actions.removeAll()
        schedule = CronSchedule()
    }

    private func tick() {
        isTicking = true
        for id in schedule.takeDue(nowMs: loop.nowMs) {
            // A duty cancelled by an earlier one in this tick no longer has an action.
            actions[id]?()
        }
        isTicking = false
        arm()
    }

    private func arm() {
        guard let timer, let dueMs = schedule.nextDueMs else { return }
        let now = loop.nowMs
        // A strong capture: `close` closes the timer, which drops this closure and the cycle.
        timer.start(afterMs: dueMs > now ? dueMs - now : 0) { self.tick() }
    }
}
