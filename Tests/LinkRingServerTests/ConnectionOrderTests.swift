// The HTTP connection's state machine on a real loop in this process, without a cluster: the
// server and a pipelining client (NodeConnection, what the proxy uses) share one EventLoop, so
// every test is one `loop.run()` that ends when both sides are closed. What they prove:
//
//   - answers leave in request order, whatever order the handlers answer in;
//   - a public (non-concurrent) deferred answer holds the next request back, an internal
//     (concurrent) one does not;
//   - `Connection: close` and a malformed request end the connection after their answer;
//   - a graceful stop answers what is in flight, then closes, and every handle's close
//     callback has run when the loop ends (`loop.close()` is true: nothing leaked).
//
// A guard timer ends a test that would otherwise hang, and records that it had to.

import LinkRingCore
import LinkRingServer
import LinkRingUV
import Testing

/// Answers `GET /now/X` at once with body X; `GET /later/X` (concurrent) and `GET /serial/X`
/// (public, one at a time) later, when the test releases them; records the order of calls.
final class ScriptedHandler: HTTPRequestHandler {
    var calls: [String] = []
    var held: [(name: String, answer: DeferredResponse)] = []
    var onHeld: ((ScriptedHandler) -> Void)?

    func handle(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, on connection: HTTPConnection) {
        let target = String(decoding: buffer[head.target], as: UTF8.self)
        let parts = target.split(separator: "/").map(String.init)
        guard parts.count == 2 else { return connection.respond(.notFound, body: []) }
        calls.append(parts[1])
        switch parts[0] {
        case "now":
            connection.respond(.ok, contentType: ContentType.text, body: Array(parts[1].utf8))
        case "later", "serial":
            held.append((parts[1], connection.deferResponse(concurrent: parts[0] == "later")))
            onHeld?(self)
        default:
            connection.respond(.notFound, body: [])
        }
    }

    /// Answers the held requests in the order of `names`.
    func release(_ names: [String]) {
        for name in names {
            guard let index = held.firstIndex(where: { $0.name == name }) else { continue }
            let answer = held.remove(at: index).answer
            answer.respond(.ok, contentType: ContentType.text, body: Array(name.utf8))
        }
    }
}

/// A server and a client on one loop, torn down when `finish` is called or the guard fires.
final class LoopFixture {
    let loop: EventLoop
    let handler = ScriptedHandler()
    let server: HTTPServer
    let flusher: OutputFlusher
    let client: NodeConnection
    let port: Int
    private let guardTimer: Timer
    private(set) var timedOut = false
    private(set) var replies: [String] = []
    private(set) var clientClosedReason: String?? = nil

    init(limits: ServerLimits = ServerLimits(), guardMs: UInt64 = 5_000) throws {
        loop = try EventLoop()
        server = HTTPServer(loop: loop, limits: limits, handler: handler)
        port = try server.start(host: "127.0.0.1", port: 0).port
        flusher = OutputFlusher(loop: loop)
        client = NodeConnection(address: HostPort(host: "127.0.0.1", port: port), loop: loop, flusher: flusher,
                                resolver: NameResolver(loop: loop), connectTimeoutMs: 2_000)
        guardTimer = Timer(loop: loop)
        client.onClose = { [unowned self] _, reason in self.clientClosedReason = .some(reason) }
        guardTimer.start(afterMs: guardMs) { [unowned self] in
            self.timedOut = true
            self.finish()
        }
    }

    /// Sends `GET target` (with `headers`), recording the answer as "STATUS BODY".
    func get(_ target: String, headers: String = "", then: ((LoopFixture) -> Void)? = nil) {
        let bytes = Array("GET \(target) HTTP/1.1\r\nHost: t\r\n\(headers)\r\n".utf8)
        send(bytes, then: then)
    }

    func send(_ bytes: [UInt8], then: ((LoopFixture) -> Void)? = nil) {
        client.send(NodeRequest(bytes: bytes, deadlineMs: loop.nowMs + 4_000) { [unowned self] reply in
            switch reply {
            case .answered(let status, _, let body, _): self.replies.append("\(status) \(String(decoding: body, as: UTF8.self))")
            case .failed(let reason): self.replies.append("failed: \(reason)")
            }
            then?(self)
        })
    }

    /// Closes the client, stops the server gracefully, and lets the loop end.
    func finish() {
        guardTimer.close()
        client.fail(nil)
        flusher.close()
        server.stop {}
    }

    /// Runs the loop to its end; true when every handle was closed (nothing leaked).
    func run() -> Bool {
        loop.run()
        return loop.close()
    }
}

@Suite("HTTP connection: order, holding back, closing (one loop, no cluster)")
struct ConnectionOrderTests {
    @Test("pipelined answers leave in request order, though the handler answers them in reverse")
    func answersInRequestOrder() throws {
        let fixture = try LoopFixture()
        fixture.handler.onHeld = { handler in
            if handler.held.count == 3 { handler.release(["c", "b", "a"]) }
        }
        for name in ["a", "b", "c"] { fixture.get("/later/\(name)") }
        fixture.get("/now/d") { if $0.replies.count == 4 { $0.finish() } }
        #expect(fixture.run())
        #expect(!fixture.timedOut)
        #expect(fixture.replies == ["200 a", "200 b", "200 c", "200 d"])
    }

    @Test("a public deferred answer holds the next request back; an internal (concurrent) one does not")
    func serialHoldsBack() throws {
        let fixture = try LoopFixture()
        fixture.handler.onHeld = { handler in
            // When the serial request is held, the request behind it must not have been handled.
            if handler.held.last?.name == "s" {
                #expect(handler.calls == ["c", "s"], "the concurrent one ran, then the serial one, nothing after")
                handler.release(["s", "c"])
            }
        }
        fixture.get("/later/c")
        fixture.get("/serial/s")
        fixture.get("/now/after") { $0.finish() }
        #expect(fixture.run())
        #expect(!fixture.timedOut)
        #expect(fixture.handler.calls == ["c", "s", "after"])
        #expect(fixture.replies == ["200 c", "200 s", "200 after"])
    }

    @Test("Connection: close ends the connection after its answer")
    func connectionClose() throws {
        let fixture = try LoopFixture()
        fixture.get("/now/x", headers: "Connection: close\r\n")
        let closed = Timer(loop: fixture.loop)
        closed.start(afterMs: 10, repeatMs: 10) {
            if fixture.clientClosedReason != nil {
                closed.close()
                fixture.finish()
            }
        }
        #expect(fixture.run())
        #expect(!fixture.timedOut)
        #expect(fixture.replies == ["200 x"])
        #expect(fixture.clientClosedReason != nil, "the server closed the connection")
    }

    @Test("a malformed request gets a 400 and the connection ends; a later request on it fails")
    func malformed() throws {
        let fixture = try LoopFixture()
        fixture.send(Array("GET /now/x HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n".utf8))
        fixture.get("/now/y") { $0.finish() }
        #expect(fixture.run())
        #expect(!fixture.timedOut)
        #expect(fixture.replies.first == "400 " || fixture.replies.first?.hasPrefix("400 ") == true, "\(fixture.replies)")
        #expect(fixture.replies.count == 2 && fixture.replies[1].hasPrefix("failed"), "\(fixture.replies)")
    }

    @Test("a graceful stop answers the request in flight, then closes; every handle is closed when the loop ends")
    func gracefulStop() throws {
        let fixture = try LoopFixture()
        var stopped = false
        fixture.handler.onHeld = { handler in
            fixture.server.stop { stopped = true }
            handler.release(["x"])
        }
        fixture.get("/serial/x") { $0.finish() }
        #expect(fixture.run(), "a handle outlived the loop")
        #expect(!fixture.timedOut)
        #expect(stopped)
        #expect(fixture.replies == ["200 x"])
    }

    @Test("past --max-connections a new connection is answered 503 and closed, the first one still served")
    func overloaded() throws {
        var limits = ServerLimits()
        limits.connectionsMax = 1
        let fixture = try LoopFixture(limits: limits)
        let listener = RawListener()
        fixture.get("/now/first") { fixture in
            listener.stream = try? TCPStream.connect(loop: fixture.loop, host: "127.0.0.1", port: fixture.port) { _ in
                listener.stream?.startReading()
            }
            listener.stream?.delegate = listener
            listener.onEnd = { fixture.get("/now/again") { $0.finish() } }
        }
        #expect(fixture.run())
        #expect(!fixture.timedOut)
        #expect(listener.received.hasPrefix("HTTP/1.1 503 "), "\(listener.received.prefix(80))")
        #expect(fixture.replies == ["200 first", "200 again"])
    }
}

/// A client that only listens: what the server says to a connection that sends nothing.
final class RawListener: TCPStreamDelegate {
    var stream: TCPStream?
    var received = ""
    var onEnd: (() -> Void)?

    func streamDidRead(_ stream: TCPStream, _ bytes: ReadBytes) {
        var copy: [UInt8] = []
        bytes.append(to: &copy)
        received += String(decoding: copy, as: UTF8.self)
    }

    func streamDidEnd(_ stream: TCPStream, error: UVError?) {
        stream.close()
        onEnd?()
        onEnd = nil
    }

    func streamDidFlush(_ stream: TCPStream) {}
    func streamDidClose(_ stream: TCPStream) { self.stream = nil }
}
