// The one cron's schedule on an injected clock: which duties are due at a given time, that a
// late tick runs a duty once (no catching up), that the cron wakes at the earliest due duty,
// and that removing a duty stops it.

import Testing
@testable import LinkRingCore

@Suite("Cron schedule")
struct CronScheduleTests {
    @Test("each duty is due at its own period, in the order duties were added")
    func periodsAndOrder() {
        var schedule = CronSchedule()
        let housekeeping = schedule.add("server housekeeping", periodMs: 100, firstDueMs: 100)
        let sync = schedule.add("log sync", periodMs: 1_000, firstDueMs: 1_000)
        var runs: [Int: [UInt64]] = [:]
        for now in stride(from: UInt64(0), through: 2_000, by: 50) {
            for id in schedule.takeDue(nowMs: now) { runs[id, default: []].append(now) }
        }
        #expect(runs[housekeeping] == Array(stride(from: UInt64(100), through: 2_000, by: 100)))
        #expect(runs[sync] == [1_000, 2_000])
        #expect(schedule.takeDue(nowMs: 3_000) == [housekeeping, sync])
    }

    @Test("a late tick runs a duty once and counts its next period from then (fixed delay)")
    func lateTickDoesNotCatchUp() {
        var schedule = CronSchedule()
        let ping = schedule.add("ping", periodMs: 250, firstDueMs: 0)
        #expect(schedule.takeDue(nowMs: 0) == [ping])
        #expect(schedule.takeDue(nowMs: 1_000) == [ping])
        #expect(schedule.takeDue(nowMs: 1_249).isEmpty)
        #expect(schedule.takeDue(nowMs: 1_250) == [ping])
    }

    @Test("the cron wakes when the earliest duty is due, so a short period needs no fast tick")
    func nextDue() {
        var schedule = CronSchedule()
        #expect(schedule.nextDueMs == nil)
        _ = schedule.add("compaction check", periodMs: 1_000, firstDueMs: 1_000)
        let deadlines = schedule.add("node deadlines", periodMs: 10, firstDueMs: 10)
        #expect(schedule.nextDueMs == 10)
        #expect(schedule.takeDue(nowMs: 12) == [deadlines])
        #expect(schedule.nextDueMs == 22)
        schedule.remove(deadlines)
        #expect(schedule.nextDueMs == 1_000)
    }

    @Test("a removed duty is never due again; removing twice is harmless")
    func removal() {
        var schedule = CronSchedule()
        let round = schedule.add("repair round", periodMs: 100, firstDueMs: 100)
        let status = schedule.add("status table", periodMs: 100, firstDueMs: 100)
        schedule.remove(round)
        schedule.remove(round)
        #expect(schedule.takeDue(nowMs: 500) == [status])
        #expect(schedule.duties.map(\.name) == ["status table"])
    }
}
