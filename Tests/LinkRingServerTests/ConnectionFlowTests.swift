// Back-pressure of a client connection (issue 12, points 1 and 2), in two parts:
//
//   - the rules alone (`ConnectionBudget` on a `ConnectionLoad`): when parsing stops, when
//     reading stops, and that both resume once the load drains, whatever drained it;
//   - the real connection on one loop with a pipelining client that writes every request before
//     it reads a byte: thousands of requests answered later (as a node's PUT), answered at once
//     with tiny limits so every limit is crossed many times, concurrent answers capped by the
//     answers-owed limit, and a client that does not read for a while. Every answer must
//     arrive, in request order; a guard timer fails a test that stalls (as main did: reading
//     resumed only when a queued write completed, never after writes that completed at once).

import Foundation
import Glibc
import LinkRingCore
import LinkRingServer
import LinkRingUV
import Testing

@Suite("Connection back-pressure: the rules")
struct ConnectionFlowRuleTests {
    let budget = ConnectionBudget()

    @Test("parsing goes on with nothing owed, stops behind a blocking answer, at the answers-owed limit and past the output limit")
    func parsing() {
        #expect(budget.mayParse(ConnectionLoad()))
        #expect(!budget.mayParse(ConnectionLoad(answersOwed: 1, blockingAnswersOwed: 1)))
        #expect(budget.mayParse(ConnectionLoad(answersOwed: budget.answersOwedMax - 1)))
        #expect(!budget.mayParse(ConnectionLoad(answersOwed: budget.answersOwedMax)))
        #expect(budget.mayParse(ConnectionLoad(unsentOutputBytes: budget.outputBytesMax)))
        #expect(!budget.mayParse(ConnectionLoad(unsentOutputBytes: budget.outputBytesMax + 1)))
        #expect(budget.isOutputFull(ConnectionLoad(unsentOutputBytes: budget.outputBytesMax + 1)))
        #expect(!budget.isOutputFull(ConnectionLoad(unsentOutputBytes: budget.outputBytesMax)))
    }

    @Test("a connection that handled its turn's share parses no more this turn and reads ahead only up to the input limit")
    func turnShare() {
        #expect(!budget.mayParse(ConnectionLoad(hasUsedTurn: true)))
        #expect(budget.shouldRead(ConnectionLoad(unparsedInputBytes: budget.inputBytesMax - 1, hasUsedTurn: true)))
        #expect(!budget.shouldRead(ConnectionLoad(unparsedInputBytes: budget.inputBytesMax, hasUsedTurn: true)))
    }

    @Test("while it may parse, a connection reads whatever it holds (the rest is one incomplete request)")
    func readsWhileParsing() {
        #expect(budget.shouldRead(ConnectionLoad(unparsedInputBytes: 0)))
        #expect(budget.shouldRead(ConnectionLoad(unparsedInputBytes: budget.inputBytesMax * 2)))
    }

    @Test("while it cannot parse, it reads ahead up to the input limit, then stops", arguments: [
        ConnectionLoad(answersOwed: 1, blockingAnswersOwed: 1),
        ConnectionLoad(answersOwed: Limits.connectionAnswersOwedMax),
        ConnectionLoad(unsentOutputBytes: Limits.connectionOutputBytesMax + 1),
    ])
    func stopsReadingPastInputLimit(blocked: ConnectionLoad) {
        var load = blocked
        load.unparsedInputBytes = budget.inputBytesMax - 1
        #expect(budget.shouldRead(load))
        load.unparsedInputBytes = budget.inputBytesMax
        #expect(!budget.shouldRead(load))
    }

    @Test("reading resumes when the load drains: answers given, output sent, input parsed")
    func resumes() {
        let stalled = ConnectionLoad(unparsedInputBytes: budget.inputBytesMax + 100, unsentOutputBytes: budget.outputBytesMax + 1,
                                     answersOwed: budget.answersOwedMax, blockingAnswersOwed: 1)
        #expect(!budget.shouldRead(stalled))
        var drained = stalled
        drained.answersOwed = 0
        drained.blockingAnswersOwed = 0
        #expect(!budget.shouldRead(drained), "output still full")
        drained.unsentOutputBytes = 0  // the socket took it: at once (uv_try_write) or later
        #expect(budget.shouldRead(drained) && budget.mayParse(drained))
        var parsed = stalled
        parsed.unparsedInputBytes = 0
        #expect(budget.shouldRead(parsed), "input parsed: read again, even with answers still owed")
    }

    @Test("the limits add up to the connection's memory budget, with one read of the loop's buffer")
    func budgetAddsUp() {
        #expect(Limits.connectionInputBytesMax + EventLoop.readBufferBytes + Limits.connectionOutputBytesMax <= Limits.connectionBytesMax)
    }
}

/// Answers `/now/X` at once with X; `/serial/X` (blocking) and `/later/X` (concurrent) one
/// loop turn later, as a node answers a PUT after its group commit. Counts the answers it owed
/// at most at once.
final class NextTurnHandler: HTTPRequestHandler {
    private var held: [(name: [UInt8], answer: DeferredResponse)] = []
    private let turn: LinkRingUV.Timer
    private(set) var owedMax = 0
    private(set) var handled = 0

    init(loop: EventLoop) { turn = LinkRingUV.Timer(loop: loop) }

    func handle(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, on connection: HTTPConnection) {
        handled += 1
        let target = Array(buffer[head.target])
        let slash = target.lastIndex(of: UInt8(ascii: "/")) ?? 0
        let kind = target[1..<slash]
        let name = Array(target[(slash + 1)...])
        if kind.elementsEqual("now".utf8) { return connection.respond(.ok, contentType: ContentType.text, body: name) }
        held.append((name, connection.deferResponse(concurrent: kind.elementsEqual("later".utf8))))
        owedMax = max(owedMax, held.count)
        if held.count == 1 { turn.start(afterMs: 0) { [unowned self] in self.releaseAll() } }
    }

    private func releaseAll() {
        let answers = held
        held.removeAll()
        for (name, answer) in answers { answer.respond(.ok, contentType: ContentType.text, body: name) }
    }

    func close() { turn.close() }
}

/// A client that writes every request at once, reads nothing until `readAfterMs`, then reads
/// and checks each answer's body against the request order.
final class PipelineClient: TCPStreamDelegate {
    private var stream: TCPStream?
    private var buffer: [UInt8] = []
    private let expected: [[UInt8]]
    private(set) var answered = 0
    private(set) var outOfOrder = 0
    private(set) var failures: [String] = []
    var onDone: (() -> Void)?

    init(loop: EventLoop, port: Int, requests: [UInt8], expected: [[UInt8]], readAfterMs: UInt64, pause: LinkRingUV.Timer) throws {
        self.expected = expected
        stream = try TCPStream.connect(loop: loop, host: "127.0.0.1", port: port) { [unowned self] error in
            if let error { return self.fail("connect: \(error)") }
            self.stream?.write(requests)
            pause.start(afterMs: readAfterMs) { [unowned self] in self.stream?.startReading() }
        }
        stream?.delegate = self
    }

    func streamDidRead(_ stream: TCPStream, _ bytes: ReadBytes) {
        bytes.append(to: &buffer)
        var start = 0
        while case .response(let head) = HTTPResponseParser.parse(buffer, from: start, to: buffer.count) {
            if head.status != 200 || answered >= expected.count || !buffer[head.body].elementsEqual(expected[answered]) { outOfOrder += 1 }
            answered += 1
            start = head.end
        }
        buffer.removeFirst(start)
        if answered == expected.count { finish() }
    }

    func streamDidEnd(_ stream: TCPStream, error: UVError?) { fail("the server ended the connection after \(answered) answers") }
    func streamDidFlush(_ stream: TCPStream) {}
    func streamDidClose(_ stream: TCPStream) { self.stream = nil }

    private func fail(_ reason: String) {
        failures.append(reason)
        finish()
    }

    func finish() {
        stream?.close()
        onDone?()
        onDone = nil
    }
}

/// A server with `budget` and one pipelining client on one loop; `run` ends when every answer
/// arrived, the client failed, or the guard fired.
final class PipelineFixture {
    let loop: EventLoop
    let handler: NextTurnHandler
    let server: HTTPServer
    let client: PipelineClient
    private let pause: LinkRingUV.Timer
    private let guardTimer: LinkRingUV.Timer
    private(set) var timedOut = false

    init(budget: ConnectionBudget = ConnectionBudget(), requests: [UInt8], expected: [[UInt8]], readAfterMs: UInt64 = 0,
         guardMs: UInt64 = 20_000) throws {
        loop = try EventLoop()
        handler = NextTurnHandler(loop: loop)
        server = HTTPServer(loop: loop, limits: ServerLimits(), handler: handler, budget: budget)
        let port = try server.start(host: "127.0.0.1", port: 0).port
        pause = LinkRingUV.Timer(loop: loop)
        guardTimer = LinkRingUV.Timer(loop: loop)
        client = try PipelineClient(loop: loop, port: port, requests: requests, expected: expected, readAfterMs: readAfterMs, pause: pause)
        client.onDone = { [unowned self] in self.tearDown() }
        guardTimer.start(afterMs: guardMs) { [unowned self] in
            self.timedOut = true
            self.client.finish()
        }
    }

    private func tearDown() {
        guardTimer.close()
        pause.close()
        handler.close()
        server.stop {}
    }

    /// Runs the loop to its end; true when every handle was closed.
    func run() -> Bool {
        loop.run()
        return loop.close()
    }

    /// `count` requests `METHOD /KIND/NAMEi` with `bodyBytes` of body each, and their answers' bodies.
    static func pipeline(_ count: Int, method: String = "GET", kind: String, bodyBytes: Int = 0) -> (requests: [UInt8], expected: [[UInt8]]) {
        var requests: [UInt8] = []
        var expected: [[UInt8]] = []
        let body = [UInt8](repeating: UInt8(ascii: "v"), count: bodyBytes)
        for index in 0..<count {
            let name = "k\(index)"
            requests += Array("\(method) /\(kind)/\(name) HTTP/1.1\r\nHost: t\r\nContent-Length: \(bodyBytes)\r\n\r\n".utf8) + body
            expected.append(Array(name.utf8))
        }
        return (requests, expected)
    }
}

@Suite("Connection back-pressure: pipelines on a real loop", .serialized)
struct ConnectionPipelineTests {
    /// Runs `count` pipelined requests through a server with `budget`; expects every answer, in
    /// order, with no stall; returns the fixture for further checks.
    @discardableResult
    private func expectAllAnswered(_ count: Int, method: String = "GET", kind: String, bodyBytes: Int = 0,
                                   budget: ConnectionBudget = ConnectionBudget(), readAfterMs: UInt64 = 0) throws -> PipelineFixture {
        let (requests, expected) = PipelineFixture.pipeline(count, method: method, kind: kind, bodyBytes: bodyBytes)
        let fixture = try PipelineFixture(budget: budget, requests: requests, expected: expected, readAfterMs: readAfterMs)
        #expect(fixture.run())
        #expect(!fixture.timedOut, "stalled after \(fixture.client.answered) of \(count) answers")
        #expect(fixture.client.answered == count && fixture.client.outOfOrder == 0, "\(fixture.client.outOfOrder) wrong or out of order")
        #expect(fixture.client.failures.isEmpty, "\(fixture.client.failures)")
        return fixture
    }

    private func budget(inputBytesMax: Int, outputBytesMax: Int) -> ConnectionBudget {
        var budget = ConnectionBudget()
        budget.inputBytesMax = inputBytesMax
        budget.outputBytesMax = outputBytesMax
        return budget
    }

    @Test("3,000 pipelined requests with 4 KB bodies, each answered a loop turn later and one at a time: all answered, in order")
    func blockingAnswersWithLargeBodies() throws {
        try expectAllAnswered(3_000, method: "PUT", kind: "serial", bodyBytes: 4_096)
    }

    @Test("30,000 pipelined GETs answered at once through 1 KiB limits: the output written as it fills, every answer in order")
    func tinyLimits() throws {
        try expectAllAnswered(30_000, kind: "now", budget: budget(inputBytesMax: 1_024, outputBytesMax: 1_024))
    }

    @Test("concurrent answers: never more owed than the answers-owed limit, all answered in order")
    func answersOwedLimit() throws {
        var budget = ConnectionBudget()
        budget.answersOwedMax = 4
        let fixture = try expectAllAnswered(2_000, kind: "later", budget: budget)
        #expect(fixture.handler.owedMax == 4, "owed at most \(fixture.handler.owedMax) at once")
    }

    @Test("a client that reads nothing for 500 ms, then reads: every blocking answer arrives, in order")
    func readsLate() throws {
        try expectAllAnswered(20_000, kind: "serial", budget: budget(inputBytesMax: 4_096, outputBytesMax: 4_096), readAfterMs: 500)
    }
}

/// Records the order in which requests are handled and answers each at once; stops the server
/// once `total` were handled.
private final class OrderRecordingHandler: HTTPRequestHandler {
    private(set) var order: [[UInt8]] = []
    private let total: Int
    var onAllHandled: (() -> Void)?

    init(total: Int) { self.total = total }

    func handle(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, on connection: HTTPConnection) {
        order.append(Array(buffer[head.target]))
        connection.respond(.ok, contentType: ContentType.text, body: [])
        if order.count == total { onAllHandled?() }
    }
}

@Suite("Connection back-pressure: a turn's share of requests", .serialized)
struct ConnectionTurnShareTests {
    @Test("a 2,000-request pipeline and a lone request read in the same turn: the lone one is handled within the pipeline's first turn's share")
    func pipelineSharesTheLoop() throws {
        let loop = try EventLoop()
        let pipelineLength = 2_000
        let handler = OrderRecordingHandler(total: pipelineLength + 1)
        let server = HTTPServer(loop: loop, limits: ServerLimits(), handler: handler)
        let port = try server.start(host: "127.0.0.1", port: 0).port
        handler.onAllHandled = { server.stop {} }
        // Both connect and write before the loop runs: the server reads both in its first turns.
        let pipelining = try BlockingClient(port: port)
        let lone = try BlockingClient(port: port)
        pipelining.drainAnswers()
        lone.drainAnswers()
        pipelining.send((0..<pipelineLength).flatMap { Array("GET /p\($0) HTTP/1.1\r\nHost: t\r\n\r\n".utf8) })
        lone.send(Array("GET /lone HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        loop.run()
        #expect(loop.close())
        let position = handler.order.firstIndex(of: Array("/lone".utf8))
        #expect(handler.order.count == pipelineLength + 1)
        #expect(position.map { $0 <= min(Limits.connectionRequestsPerTurnMax, pipelineLength / 2) } == true,
                "the lone request was handled at position \(position ?? -1) of \(handler.order.count)")
        #expect(handler.order.filter { $0 != Array("/lone".utf8) } == (0..<pipelineLength).map { Array("/p\($0)".utf8) }, "pipeline order kept")
    }
}
