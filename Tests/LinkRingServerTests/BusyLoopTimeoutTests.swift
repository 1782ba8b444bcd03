// Client time-outs never blame a client for the server's own busy loop (the CI failure of
// session 11: an AddressSanitizer node spent 20 s of one loop turn answering a 30,000-GET
// pipeline and then answered 408 to the request whose rest had been waiting in its socket).
//
//   - the rule alone: a housekeeping tick later than its period by more than
//     `Limits.loopStallForgivenMs` judges no time-out (`TimeoutJudge`);
//   - a real server on one loop whose handler blocks the loop longer than the header time-out
//     while the client completes its next, pipelined request: that request is answered, not 408.
//     Before the fix its time-out started at the turn's stale cached time, and the late tick ran
//     before the loop read the rest.

import Foundation
import Glibc
import LinkRingCore
import LinkRingServer
import LinkRingUV
import Testing

@Suite("Time-outs after a busy loop turn")
struct BusyLoopTimeoutTests {
    @Test("a tick on time judges time-outs; one later than its period plus the forgiven stall does not; the next one does")
    func judgeSkipsLateTicks() {
        var judge = TimeoutJudge(periodMs: 100)
        let afterStall = 5_200 + Limits.loopStallForgivenMs + 100 + Limits.loopStallForgivenMs + 1
        let ticks: [(nowMs: UInt64, mayJudge: Bool, what: String)] = [
            (5_000, true, "the first tick"),
            (5_100, true, "on time"),
            (5_200 + Limits.loopStallForgivenMs, true, "late, but within the forgiven stall"),
            (afterStall, false, "the loop stalled"),
            (afterStall + 100, true, "the tick after it, once the loop has polled"),
            (afterStall + 100, true, "a clock that did not move"),
        ]
        for tick in ticks {
            let judged = judge.mayJudge(nowMs: tick.nowMs)
            #expect(judged == tick.mayJudge, "\(tick.what) (\(tick.nowMs) ms)")
        }
    }

    @Test("a handler that blocks the loop 1.5 s, header time-out 200 ms: the pipelined request completed meanwhile is answered, not 408")
    func busyTurnDoesNotCutThePipelinedRequest() throws {
        let loop = try EventLoop()
        var limits = ServerLimits()
        limits.headerTimeoutMs = 200
        let handler = BusyHandler(loop: loop, busyMs: 1_500)
        let server = HTTPServer(loop: loop, limits: limits, handler: handler)
        let port = try server.start(host: "127.0.0.1", port: 0).port
        handler.onDone = { server.stop {} }
        let client = SplitRequestClient(port: port, first: "GET /busy HTTP/1.1\r\nHost: t\r\n\r\nGET /now HTT",
                                        rest: "P/1.1\r\nHost: t\r\n\r\n", restAfterMs: 300)
        client.start()
        loop.run()
        #expect(loop.close())
        let statuses = client.waitForStatuses()
        #expect(statuses == [200, 200], "answers: \(statuses)")
    }
}

/// `/busy` blocks the loop for `busyMs`, then answers; `/now` answers at once and ends the test.
/// A guard timer ends it after 10 s whatever happened.
private final class BusyHandler: HTTPRequestHandler {
    private let busyMs: UInt32
    private let guardTimer: LinkRingUV.Timer
    var onDone: (() -> Void)?

    init(loop: EventLoop, busyMs: UInt32) {
        self.busyMs = busyMs
        guardTimer = LinkRingUV.Timer(loop: loop)
        guardTimer.start(afterMs: 10_000) { [unowned self] in self.finish() }
    }

    func handle(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, on connection: HTTPConnection) {
        let isBusy = buffer[head.target].elementsEqual("/busy".utf8)
        if isBusy { usleep(busyMs * 1_000) }
        connection.respond(.ok, contentType: ContentType.text, body: Array("ok".utf8))
        if !isBusy { finish() }
    }

    private func finish() {
        guardTimer.close()
        onDone?()
        onDone = nil
    }
}

/// A blocking client on its own thread: sends `first`, then `rest` after `restAfterMs`, and
/// reads answers until the server closes or two arrived; their status codes.
private final class SplitRequestClient: @unchecked Sendable {
    private let port: Int
    private let first: [UInt8]
    private let rest: [UInt8]
    private let restAfterMs: UInt32
    private let done = DispatchSemaphore(value: 0)
    private var statuses: [Int] = []

    init(port: Int, first: String, rest: String, restAfterMs: UInt32) {
        self.port = port
        self.first = Array(first.utf8)
        self.rest = Array(rest.utf8)
        self.restAfterMs = restAfterMs
    }

    func start() {
        Thread.detachNewThread { [self] in
            statuses = exchange()
            done.signal()
        }
    }

    func waitForStatuses() -> [Int] {
        done.wait()
        return statuses
    }

    private func exchange() -> [Int] {
        guard let client = try? BlockingClient(port: port) else { return [] }
        client.setReceiveTimeout(seconds: 10)
        client.send(first)
        usleep(restAfterMs * 1_000)
        client.send(rest)
        var received: [UInt8] = []
        var statuses: [Int] = []
        while statuses.count < 2 {
            let bytes = client.receive()
            guard !bytes.isEmpty else { break }
            received += bytes
            var start = 0
            while case .response(let head) = HTTPResponseParser.parse(received, from: start, to: received.count) {
                statuses.append(head.status)
                start = head.end
            }
            received.removeFirst(start)
        }
        return statuses
    }
}
