// One client connection of an HTTP/1.1 server: bytes in, requests out in order, answers back.
//
//   read ─▶ input [UInt8] ─▶ parser ─▶ head (+ body) ─▶ handler ─▶ respond…() ─────────▶ output
//                                                          │                              ▲
//                                     deferResponse() ─▶ answer slot (FIFO) ─ answered ───┘
//
// Answers leave in request order: an answer given while earlier ones are still outstanding
// waits in its slot. A handler that answers later chooses how the connection goes on meanwhile:
//   - blocking (default): parsing stops until the answer is given, so pipelined requests see
//     each other's effects exactly as if sent one by one (public writes, the proxy);
//   - concurrent: the next requests are handled at once (a node's internal routes: the proxy
//     pipelines many writes on one connection, and they share one group commit).
// At most `Limits.pipelinedAnswersMax` answers may be outstanding; then parsing waits.
//
// Limits: input is buffered up to `Limits.connectionInputBytesMax` and output up to
// `Limits.connectionOutputBytesMax` before the connection stops reading (back-pressure).
// A request whose head (or body) does not arrive within the header time-out gets 408; an idle
// keep-alive connection is closed after the idle time-out (both checked by the server's cron).
// After an answer that ends the connection (Connection: close, HTTP/1.0, a malformed request)
// the server sends FIN, drains what the client still sends for `Limits.lingerTimeoutMs`, then
// closes, so the client reads the answer instead of a reset.

import LinkRingCore
import LinkRingUV

package protocol HTTPRequestHandler: AnyObject {
    /// Answers one request through `connection` (now) or a `deferResponse` slot (later).
    /// `buffer[head.target]` is the target; `buffer[body]` the body. Do not keep `buffer`.
    func handle(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, on connection: HTTPConnection)
}

/// For the access log: the request an answer belongs to.
struct LoggedRequest {
    var method: HTTPMethod
    var target: [UInt8]
    var startedNs: UInt64
}

/// An answer given later, in its place among the connection's answers.
package final class DeferredResponse: Responder {
    fileprivate var connection: HTTPConnection?
    fileprivate var context: ResponseContext
    fileprivate let logged: LoggedRequest?
    fileprivate let isBlocking: Bool
    fileprivate var bytes: [UInt8]? = nil
    fileprivate var status = 0

    fileprivate init(connection: HTTPConnection, context: ResponseContext, logged: LoggedRequest?, isBlocking: Bool) {
        self.connection = connection
        self.context = context
        self.logged = logged
        self.isBlocking = isBlocking
    }

    package var isHeadRequest: Bool { context.isHead }

    /// Answers once; later calls, or calls after the connection closed, do nothing.
    package func send(_ status: HTTPStatus, _ write: (inout [UInt8], ResponseContext) -> Void) {
        guard let connection else { return }
        self.connection = nil
        connection.complete(self, status, write)
    }
}

package final class HTTPConnection: TCPStreamDelegate, Responder {
    private let stream: TCPStream
    private let server: HTTPServer
    var registryIndex = -1
    /// Accepted past the connection limit: answered 503 and closed.
    var rejectAsOverloaded = false

    private var input: [UInt8] = []
    private var inputStart = 0
    private var output: [UInt8] = []
    private var parser = HTTPRequestParser()
    private var pendingHead: HTTPRequestHead? = nil
    private var sentContinue = false

    /// Outstanding and answered-but-waiting slots, in request order.
    private var slots = FIFOQueue<DeferredResponse>()
    private var blockingSlots = 0
    /// The request being handled: how to answer it, and what the access log needs.
    private var context = ResponseContext(date: [], isKeepAlive: true)
    private var logged: LoggedRequest? = nil
    /// A request ended the conversation (Connection: close, HTTP/1.0, malformed): parse no more.
    private var noMoreRequests = false
    private var closeAfterResponse = false
    /// True while the handler runs: an answer given then is picked up by the parsing loop.
    private var isDispatching = false
    private var isDraining = false
    private var peerEnded = false
    package private(set) var isClosed = false

    var requestStartedMs: UInt64? = nil
    var lastActivityMs: UInt64
    var drainStartedMs: UInt64 = 0

    init(stream: TCPStream, server: HTTPServer) {
        self.stream = stream
        self.server = server
        lastActivityMs = server.loop.nowMs
        stream.delegate = self
        try? stream.setNoDelay(true)  // fails only on a socket already reset: the next read reports it
    }

    func start() { stream.startReading() }

    // MARK: answering (for handlers)

    /// Whether the request being handled is a HEAD (headers only).
    package var isHeadRequest: Bool { context.isHead }

    /// The open client connections of the server this connection belongs to (status pages).
    package var serverConnectionCount: Int { server.connectionCount }

    /// Answers the request being handled later, through the returned slot. `concurrent` lets
    /// the connection handle the next requests meanwhile (see the file comment).
    package func deferResponse(concurrent: Bool = false) -> DeferredResponse {
        let slot = DeferredResponse(connection: self, context: context, logged: logged, isBlocking: !concurrent)
        slots.append(slot)
        if !concurrent { blockingSlots += 1 }
        return slot
    }

    /// Answers the request being handled, now.
    package func send(_ status: HTTPStatus, _ write: (inout [UInt8], ResponseContext) -> Void) {
        guard !isClosed else { return }
        if slots.isEmpty {
            appendAnswer(status.rawValue, context, logged, write)
            return
        }
        let slot = DeferredResponse(connection: self, context: context, logged: logged, isBlocking: false)
        slot.connection = nil
        fill(slot, status, write)
        slots.append(slot)
    }

    private var pendingAnswers: Int { slots.count }

    private func appendAnswer(_ status: Int, _ context: ResponseContext, _ logged: LoggedRequest?,
                              _ write: (inout [UInt8], ResponseContext) -> Void) {
        var current = context
        current.date = server.date
        let start = output.count
        write(&output, current)
        logAccess(logged, status: status, bytes: output.count - start)
        if !current.isKeepAlive { closeAfterResponse = true }
    }

    private func fill(_ slot: DeferredResponse, _ status: HTTPStatus, _ write: (inout [UInt8], ResponseContext) -> Void) {
        var bytes: [UInt8] = []
        var current = slot.context
        current.date = server.date
        write(&bytes, current)
        slot.bytes = bytes
        slot.status = status.rawValue
    }

    fileprivate func complete(_ slot: DeferredResponse, _ status: HTTPStatus, _ write: (inout [UInt8], ResponseContext) -> Void) {
        guard !isClosed else { return }
        if slot.isBlocking { blockingSlots -= 1 }
        if slots.first === slot {
            slots.popFirst()
            appendAnswer(status.rawValue, slot.context, slot.logged, write)
        } else {
            fill(slot, status, write)
        }
        releaseAnsweredSlots()
        lastActivityMs = server.loop.nowMs
        guard !isDispatching else { return }
        processInput()
        flush()
    }

    /// Moves answered slots at the head of the queue into the output.
    private func releaseAnsweredSlots() {
        while let slot = slots.first, let bytes = slot.bytes {
            slots.popFirst()
            output += bytes
            logAccess(slot.logged, status: slot.status, bytes: bytes.count)
            if !slot.context.isKeepAlive { closeAfterResponse = true }
        }
    }

    private func logAccess(_ logged: LoggedRequest?, status: Int, bytes: Int) {
        guard let logged, let accessLog = server.accessLog else { return }
        accessLog.record(method: logged.method, target: logged.target, status: status, bytes: bytes,
                         microseconds: (MonotonicClock.nowNs() &- logged.startedNs) / 1000)
    }

    /// Answers with an error page and ends the conversation (malformed request, time-out, overload).
    private func answerAndEnd(_ failure: HTTPParseFailure) {
        noMoreRequests = true
        context = ResponseContext(date: [], isKeepAlive: false)
        logged = nil
        respondFailure(failure)
    }

    // MARK: stream events

    package func streamDidRead(_ stream: TCPStream, _ bytes: ReadBytes) {
        lastActivityMs = server.loop.nowMs
        if isDraining || noMoreRequests { return }  // discard: the conversation is over
        bytes.append(to: &input)
        processInput()
        flush()
    }

    package func streamDidEnd(_ stream: TCPStream, error: UVError?) {
        peerEnded = true
        if error != nil || isDraining || (pendingAnswers == 0 && stream.queuedWriteBytes == 0) {
            close()
        }
    }

    package func streamDidFlush(_ stream: TCPStream) {
        if closeAfterResponse || peerEnded || server.isStopping {
            finishIfDone()
        } else if !stream.isReading {
            resumeAfterBackPressure()
        }
    }

    package func streamDidClose(_ stream: TCPStream) {
        isClosed = true
        for slot in slots.removeAll() { slot.connection = nil }  // answers that come later go nowhere
        server.connectionDidClose(self)
    }

    // MARK: request processing

    private var mayParse: Bool {
        !isClosed && !noMoreRequests && !closeAfterResponse && blockingSlots == 0
            && pendingAnswers < Limits.pipelinedAnswersMax && stream.queuedWriteBytes <= Limits.connectionOutputBytesMax
    }

    private func processInput() {
        while mayParse {
            if pendingHead == nil {
                inputStart = HTTPRequestParser.skipEmptyLines(input, from: inputStart, to: input.count)
            }
            guard inputStart < input.count else { break }
            if requestStartedMs == nil { requestStartedMs = server.loop.nowMs }
            guard let head = nextHead() else { break }
            let bodyEnd = head.bodyStart + head.contentLength
            guard bodyEnd <= input.count else {
                pendingHead = head
                sendContinueIfExpected(head)
                break
            }
            dispatch(head, bodyEnd: bodyEnd)
        }
        compactInput()
        applyBackPressure()
    }

    private func nextHead() -> HTTPRequestHead? {
        if let pendingHead { return pendingHead }
        switch parser.parse(input, from: inputStart, to: input.count) {
        case .needMore:
            return nil
        case .failure(let failure):
            parser.reset()
            requestStartedMs = nil
            answerAndEnd(failure)
            return nil
        case .head(let head):
            return head
        }
    }

    private func dispatch(_ head: HTTPRequestHead, bodyEnd: Int) {
        pendingHead = nil
        sentContinue = false
        parser.reset()
        requestStartedMs = nil
        let keepAlive = head.isKeepAlive && !server.isStopping
        if !keepAlive { noMoreRequests = true }
        // The Date bytes are filled in when the answer is written (appendAnswer, fill).
        context = ResponseContext(date: [], isKeepAlive: keepAlive, isHTTP10: head.isHTTP10, isHead: head.method == .head)
        logged = server.accessLog == nil ? nil : LoggedRequest(method: head.method, target: Array(input[head.target]), startedNs: MonotonicClock.nowNs())
        inputStart = bodyEnd
        isDispatching = true
        server.handler.handle(head, input, body: head.bodyStart..<bodyEnd, on: self)
        isDispatching = false
    }

    private static let continueLine: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private func sendContinueIfExpected(_ head: HTTPRequestHead) {
        guard head.expectsContinue, !head.isHTTP10, !sentContinue, pendingAnswers == 0 else { return }
        sentContinue = true
        output.append(contentsOf: Self.continueLine)
    }

    private func compactInput() {
        if inputStart >= input.count {
            input.removeAll(keepingCapacity: input.capacity <= Limits.connectionBufferKeptBytesMax)
            inputStart = 0
        } else if inputStart > Limits.connectionInputConsumedBytesMax && pendingHead == nil {
            input.removeFirst(inputStart)
            inputStart = 0
            parser.reset()
        }
    }

    private func applyBackPressure() {
        let buffered = input.count - inputStart
        if buffered > Limits.connectionInputBytesMax || stream.queuedWriteBytes > Limits.connectionOutputBytesMax {
            stream.stopReading()
        }
    }

    private func resumeAfterBackPressure() {
        guard !isClosed, !isDraining else { return }
        processInput()
        flush()
        if input.count - inputStart <= Limits.connectionInputBytesMax { stream.startReading() }
    }

    private func flush() {
        if !output.isEmpty {
            stream.write(output)
            output.removeAll(keepingCapacity: output.capacity <= Limits.connectionBufferKeptBytesMax)
        }
        finishIfDone()
    }

    /// Ends the connection once its last answer is out, if it is to end.
    private func finishIfDone() {
        guard !isClosed, pendingAnswers == 0, stream.queuedWriteBytes == 0 else { return }
        if server.isStopping { closeAfterResponse = true }
        if peerEnded && input.count - inputStart == 0 {
            close()
        } else if closeAfterResponse && !isDraining {
            isDraining = true
            drainStartedMs = server.loop.nowMs
            stream.shutdown()
            stream.startReading()
        }
    }

    /// Answers 503 at once and ends the connection (accepted past the connection limit).
    func rejectOverloaded() {
        rejectAsOverloaded = true
        answerAndEnd(HTTPParseFailure(.serviceUnavailable, "The server has too many connections; try again."))
        flush()
    }

    // MARK: housekeeping (called by the server's cron)

    func checkTimeouts(nowMs: UInt64, limits: ServerLimits) {
        if isDraining {
            if nowMs - drainStartedMs >= Limits.lingerTimeoutMs { close() }
            return
        }
        if pendingAnswers > 0 { return }
        if let started = requestStartedMs, nowMs - started >= limits.headerTimeoutMs {
            requestStartedMs = nil
            pendingHead = nil
            answerAndEnd(HTTPParseFailure(.requestTimeout, "The request did not arrive within \(limits.headerTimeoutMs) ms."))
            flush()
        } else if requestStartedMs == nil, nowMs - lastActivityMs >= limits.idleTimeoutMs {
            close()
        }
    }

    /// Server shutdown: close now if nothing is in progress, else after the last answer.
    func closeWhenIdle() {
        noMoreRequests = true
        if pendingAnswers == 0 && stream.queuedWriteBytes == 0 { close() }
    }

    func close() {
        guard !isClosed else { return }
        stream.close()
    }
}
