// The proxy's view of a node on an injected clock: down and up transitions, readiness after
// failures, catching up before reads, the health document, and the restart back-off.

import Testing
@testable import LinkRingCore

@Suite("Node health")
struct NodeHealthTests {
    @Test("down after N failures in a row, up after one success; a success resets the count")
    func transitions() {
        var health = NodeHealth(failuresToDown: 3, nowMs: 0)
        #expect(health.state == .unknown && health.isUsable)
        let firstUp = health.recordSuccess(nowMs: 10, roundTripMs: 1, readiness: .ready)
        #expect(firstUp && health.state == .up && health.isReady && health.lastRoundTripMs == 1)
        let missOne = health.recordFailure(nowMs: 20)
        let missTwo = health.recordFailure(nowMs: 30)
        #expect(!missOne && !missTwo && health.state == .up)
        health.recordSuccess(nowMs: 40)
        health.recordFailure(nowMs: 50)
        let stillUp = health.recordFailure(nowMs: 60)
        #expect(!stillUp && health.state == .up, "a success resets the count")
        let wentDown = health.recordFailure(nowMs: 70, isPing: true)
        #expect(wentDown && health.state == .down && !health.isUsable && health.downForMs(nowMs: 1_070) == 1_000)
        let backUp = health.recordSuccess(nowMs: 2_000, roundTripMs: 3, readiness: .recovering)
        #expect(backUp && health.state == .up && health.isUsable && !health.isReady)
        let readied = health.recordSuccess(nowMs: 2_100, roundTripMs: 2, readiness: .ready)
        #expect(readied, "a readiness change is reported")
        #expect(health.isReady && health.downForMs(nowMs: 3_000) == nil)
    }
}

@Suite("Node health: readiness after failures")
struct ReadinessTests {
    @Test("a failure makes readiness unknown until a ping confirms it")
    func failureForgetsReadiness() {
        var health = NodeHealth(failuresToDown: 3)
        health.recordSuccess(nowMs: 1, roundTripMs: 1, readiness: .ready)
        #expect(health.isReady)
        health.recordFailure(nowMs: 2)
        #expect(health.isUsable && !health.isReady)
        health.recordSuccess(nowMs: 3)
        #expect(!health.isReady, "a plain answer does not confirm readiness")
        health.recordSuccess(nowMs: 4, roundTripMs: 1, readiness: .ready)
        #expect(health.isReady)
    }
}

@Suite("Node health: catching up after a failure")
struct CatchUpTests {
    let ready = { (rounds: UInt64) in NodeReport(readiness: .ready, syncRounds: rounds, peers: 3) }

    @Test("without a failure seen, a node that says ready is ready at once")
    func freshProxy() {
        var health = NodeHealth(failuresToDown: 2)
        health.recordPing(nowMs: 1, roundTripMs: 1, report: ready(7))
        #expect(health.isReady && health.readiness == .ready)
    }

    @Test("after a failure, ready only once two more repair rounds completed than at the first ping back")
    func catchUpAfterFailure() {
        var health = NodeHealth(failuresToDown: 2)
        health.recordPing(nowMs: 1, roundTripMs: 1, report: ready(7))
        health.recordFailure(nowMs: 2)
        health.recordFailure(nowMs: 3)
        #expect(health.state == .down)
        health.recordPing(nowMs: 4, roundTripMs: 1, report: ready(10))
        #expect(health.isUsable && !health.isReady && health.readiness == .catchingUp && health.readyAtRounds == 12)
        health.recordPing(nowMs: 5, roundTripMs: 1, report: ready(11))
        #expect(!health.isReady, "a round that may have begun before the proxy came back does not count")
        health.recordPing(nowMs: 6, roundTripMs: 1, report: ready(12))
        #expect(health.isReady && health.readyAtRounds == nil && !health.sawFailure)
    }

    @Test("a failure while catching up starts over; a node without peers has nothing to catch up")
    func edgeCases() {
        var health = NodeHealth(failuresToDown: 3)
        health.recordFailure(nowMs: 1)
        health.recordPing(nowMs: 2, roundTripMs: 1, report: ready(4))
        #expect(health.readyAtRounds == 6)
        health.recordFailure(nowMs: 3)
        health.recordPing(nowMs: 4, roundTripMs: 1, report: ready(6))
        #expect(!health.isReady && health.readyAtRounds == 8)
        var lone = NodeHealth(failuresToDown: 1)
        lone.recordFailure(nowMs: 1)
        lone.recordPing(nowMs: 2, roundTripMs: 1, report: NodeReport(readiness: .ready, syncRounds: 0, peers: 0))
        #expect(lone.isReady)
        var recovering = NodeHealth(failuresToDown: 1)
        recovering.recordPing(nowMs: 1, roundTripMs: 1, report: NodeReport(readiness: .recovering))
        #expect(!recovering.isReady && recovering.readiness == .recovering)
    }

    @Test("a node's health document is read without a JSON parser")
    func reportParsing() {
        let body = bytes("{\"state\":\"ready\",\"keys\":5,\"sync\":{\"peers\":3,\"rounds\":42,\"lastRoundMs\":2}}\n")
        #expect(NodeReport.parse(body) == NodeReport(readiness: .ready, syncRounds: 42, peers: 3))
        #expect(NodeReport.parse(bytes("{\"state\":\"recovering\",\"sync\":null}")) == NodeReport(readiness: .recovering))
        for report in [NodeReport(readiness: .recovering, syncRounds: 7, peers: 3, wallClockMs: 1_764_000_000_123, versionClock: 1 << 40),
                       NodeReport(readiness: .ready), NodeReport(readiness: .ready, wallClockMs: 5, versionClock: 0),
                       NodeReport(readiness: .ready, peers: 1, wallClockMs: 5, nodeID: "0123456789abcdef")] {
            #expect(NodeReport.parse(report.json) == report, "the short document round-trips: \(String(decoding: report.json, as: UTF8.self))")
        }
    }
}

@Suite("Restart back-off")
struct RestartBackoffTests {
    @Test("doubles from the base and stops at the cap")
    func doubling() {
        let delays = (1...10).map { RestartBackoff.delayMs(after: $0, baseMs: 500, maxMs: 60_000) }
        #expect(delays == [500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000])
        #expect(RestartBackoff.delayMs(after: 10_000, baseMs: 5_000, maxMs: 60_000) == 60_000)
    }
}
