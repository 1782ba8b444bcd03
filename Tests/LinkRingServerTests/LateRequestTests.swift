// The proxy's late-request scan (NodeRequest.late, NodeConnection.lateRequests): it only
// collects the requests past their node's late limit; their `onLate` runs after the walk. An
// `onLate` answers clients and sends hedges and retries, and may close the very connection
// whose requests are being walked: here one does exactly that on a real loop, and the others'
// callbacks then do not run (their requests were answered by the failure), each once at most.

import LinkRingCore
import LinkRingServer
import LinkRingUV
import Testing

/// Counts the `onLate` calls and the answers of the requests it makes.
final class LateLedger {
    var lateCalls: [String] = []
    var answers: [String] = []

    func request(_ name: String, submittedMs: UInt64, deadlineMs: UInt64 = 60_000, late: Bool = true,
                 bytes: [UInt8] = [], onLate extra: (() -> Void)? = nil) -> NodeRequest {
        let request = NodeRequest(bytes: bytes, submittedMs: submittedMs, deadlineMs: deadlineMs) { [unowned self] reply in
            if case .failed = reply { answers.append("\(name) failed") } else { answers.append("\(name) answered") }
        }
        if late {
            request.onLate = { [unowned self] in
                lateCalls.append(name)
                extra?()
            }
        }
        return request
    }
}

@Suite("Late requests: collected by the walk, told after it")
struct LateRequestTests {
    @Test("the scan returns the old requests that wait for onLate, oldest first, stops at the first young one, and runs no callback")
    func scanOnlyCollects() {
        let ledger = LateLedger()
        let requests = [
            ledger.request("a", submittedMs: 0),
            ledger.request("b", submittedMs: 5, late: false),  // no onLate: nothing to tell
            ledger.request("c", submittedMs: 10),
            ledger.request("d", submittedMs: 50),  // younger than the limit: the walk stops here
            ledger.request("e", submittedMs: 0),
        ]
        let late = NodeRequest.late(in: requests, nowMs: 60, lateAfterMs: 20)
        #expect(late.map { ObjectIdentifier($0) } == [requests[0], requests[2]].map { ObjectIdentifier($0) })
        #expect(ledger.lateCalls.isEmpty, "collecting runs no callback")
        for request in late { request.becameLate() }
        for request in late { request.becameLate() }
        #expect(ledger.lateCalls == ["a", "c"], "each once")
    }

    @Test("an onLate that closes the connection and sends on it: the walk is over, the others are answered, not told")
    func callbackClosesItsConnection() throws {
        let fixture = try LoopFixture()
        let ledger = LateLedger()
        let connection = fixture.client
        let get = { (name: String) in Array("GET /later/\(name) HTTP/1.1\r\nHost: t\r\n\r\n".utf8) }
        let first = ledger.request("a", submittedMs: fixture.loop.nowMs, bytes: get("a")) {
            connection.fail("a was late")
            connection.send(ledger.request("after", submittedMs: fixture.loop.nowMs, bytes: get("after")))
        }
        connection.send(first)
        for name in ["b", "c"] { connection.send(ledger.request(name, submittedMs: fixture.loop.nowMs, bytes: get(name))) }
        var found = 0
        fixture.handler.onHeld = { handler in
            guard handler.held.count == 3 else { return }
            let late = connection.lateRequests(nowMs: fixture.loop.nowMs + 1_000, lateAfterMs: 100)
            found = late.count
            #expect(ledger.lateCalls.isEmpty)
            for request in late { request.becameLate() }
            handler.release(["a", "b", "c"])  // the server's graceful stop waits for what it holds
            fixture.finish()
        }
        #expect(fixture.run())
        #expect(!fixture.timedOut)
        #expect(found == 3)
        #expect(ledger.lateCalls == ["a"], "b and c were answered (failed) by a's close before their turn")
        #expect(ledger.answers == ["a failed", "b failed", "c failed", "after failed"])
    }

    @Test("a waiter is told each request's reply and lateness with its position, late at most once and never after the reply")
    func waiterGetsPositions() {
        let waiter = PositionLedger()
        let requests = (0..<3).map { position in
            NodeRequest(bytes: [], submittedMs: 0, deadlineMs: 60_000, observer: nil, waiter: waiter, position: position,
                        tellsLate: position != 1)
        }
        let late = NodeRequest.late(in: requests, nowMs: 60, lateAfterMs: 20)
        #expect(late.map { ObjectIdentifier($0) } == [requests[0], requests[2]].map { ObjectIdentifier($0) },
                "the request that asked not to be told is not collected")
        requests[2].finish(.failed("gone"))
        for request in late { request.becameLate() }
        for request in late { request.becameLate() }
        requests[0].finish(.answered(status: 200, version: 7, body: [], isRecovering: false))
        requests[1].becameLate()
        requests[1].finish(.answered(status: 404, version: nil, body: [], isRecovering: false))
        #expect(waiter.events == ["2 replied failed", "0 late", "0 replied 200", "1 replied 404"])
        #expect(NodeRequest.late(in: requests, nowMs: 60, lateAfterMs: 20).isEmpty, "answered requests are never late")
    }
}

/// Records what a waiter is told, in order.
final class PositionLedger: NodeReplyWaiter {
    var events: [String] = []

    func nodeReplied(_ reply: NodeReply, position: Int) {
        switch reply {
        case .answered(let status, _, _, _): events.append("\(position) replied \(status)")
        case .failed: events.append("\(position) replied failed")
        }
    }

    func nodeLate(position: Int) { events.append("\(position) late") }
}
