// One client connection of an HTTP/1.1 server: bytes in, requests out in order, answers back.
//
//   read ─▶ input [UInt8] ─▶ parser ─▶ head (+ body) ─▶ handler ─▶ respond…() ─▶ output
//                                                          │                      │
//                                     deferResponse() ◀────┘        flush after each read batch
//
// Requests on one connection are handled one at a time, in order: when a handler defers its
// answer (a write waiting for fdatasync, a proxy waiting for a node), the connection stops
// parsing until the answer comes, so pipelined requests see each other's effects exactly as
// if they had been sent one by one. Responses leave in request order by construction.
//
// Limits: input is buffered up to `Limits.connectionInputBytesMax` and output up to
// `Limits.connectionOutputBytesMax` before the connection stops reading (back-pressure).
// A request whose head (or body) does not arrive within the header time-out gets 408; an idle
// keep-alive connection is closed after the idle time-out (both checked by the server's cron).
// After a response that ends the connection (Connection: close, HTTP/1.0, a malformed request)
// the server sends FIN, drains what the client still sends for `Limits.lingerTimeoutMs`, then
// closes, so the client reads the answer instead of a reset.

import LinkRingCore
import LinkRingUV

public protocol HTTPRequestHandler: AnyObject {
    /// Answers one request with `connection.respond…`, now or after `deferResponse()`.
    /// `buffer[head.target]` is the target; `buffer[body]` the body. Do not keep `buffer`.
    func handle(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, on connection: HTTPConnection)
}

public final class HTTPConnection: TCPStreamDelegate {
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

    /// The answer to the current request has been deferred and not given yet.
    public private(set) var isAwaitingResponse = false
    private var context = ResponseContext(date: [], isKeepAlive: true)
    private var closeAfterResponse = false
    /// True while the handler runs: an answer given then is picked up by the parsing loop.
    private var isDispatching = false
    private var isDraining = false
    private var peerEnded = false
    public private(set) var isClosed = false

    var requestStartedMs: UInt64? = nil
    /// For the access log: the request being answered, and where its answer starts in `output`.
    private var logged: (method: HTTPMethod, target: [UInt8], startedNs: UInt64)? = nil
    private var responseStart = 0
    private var responseStatus = 0
    var lastActivityMs: UInt64
    var drainStartedMs: UInt64 = 0

    init(stream: TCPStream, server: HTTPServer) {
        self.stream = stream
        self.server = server
        lastActivityMs = server.loop.nowMs
        stream.delegate = self
        stream.setNoDelay(true)
    }

    func start() { stream.startReading() }

    // MARK: answering (for handlers)

    /// Marks the current request as answered later, by one of the `respond` calls.
    public func deferResponse() {
        isAwaitingResponse = true
    }

    /// Whether the request being answered is a HEAD (headers only).
    public var isHeadRequest: Bool { context.isHead }

    public func respondRedirect(location: [UInt8]) {
        guard beginResponse(.temporaryRedirect) else { return }
        Response.appendRedirect(to: &output, location: location, context)
        endResponse()
    }

    public func respond(_ status: HTTPStatus, contentType: [UInt8] = ContentType.html, body: [UInt8],
                        extraHeaders: [[UInt8]] = []) {
        guard beginResponse(status) else { return }
        Response.append(to: &output, status, contentType: contentType, body: body, extraHeaders: extraHeaders, context)
        endResponse()
    }

    /// Answers a refused request; malformed HTTP also closes the connection.
    public func respondFailure(_ failure: HTTPParseFailure, closing: Bool = false) {
        if closing { context.isKeepAlive = false }
        let allow: [[UInt8]] = failure.status == .methodNotAllowed ? [Array("Allow: \(PublicRequest.allowedMethods)".utf8)] : []
        respond(failure.status, body: Pages.failure(failure), extraHeaders: allow)
    }

    private func beginResponse(_ status: HTTPStatus) -> Bool {
        guard !isClosed else { return false }
        context.date = server.date
        responseStart = output.count
        responseStatus = status.rawValue
        return true
    }

    private func endResponse() {
        if let logged, let accessLog = server.accessLog {
            accessLog.record(method: logged.method, target: logged.target, status: responseStatus, bytes: output.count - responseStart,
                             microseconds: (MonotonicClock.nowNs() &- logged.startedNs) / 1000)
            self.logged = nil
        }
        if !context.isKeepAlive { closeAfterResponse = true }
        guard isAwaitingResponse else { return }
        isAwaitingResponse = false
        lastActivityMs = server.loop.nowMs
        guard !isDispatching else { return }
        processInput()
        flush()
    }

    // MARK: stream events

    public func streamDidRead(_ stream: TCPStream, _ bytes: ReadBytes) {
        lastActivityMs = server.loop.nowMs
        if isDraining || closeAfterResponse { return }  // discard: the connection is ending
        bytes.append(to: &input)
        processInput()
        flush()
    }

    public func streamDidEnd(_ stream: TCPStream, error: UVError?) {
        peerEnded = true
        if error != nil || isDraining || (!isAwaitingResponse && stream.queuedWriteBytes == 0) {
            close()
        }
    }

    public func streamDidFlush(_ stream: TCPStream) {
        if closeAfterResponse || peerEnded {
            finishIfDone()
        } else if !stream.isReading {
            resumeAfterBackPressure()
        }
    }

    public func streamDidClose(_ stream: TCPStream) {
        isClosed = true
        server.connectionDidClose(self)
    }

    // MARK: request processing

    private func processInput() {
        while !isAwaitingResponse && !closeAfterResponse && !isClosed {
            guard stream.queuedWriteBytes <= Limits.connectionOutputBytesMax else { break }
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
            context = ResponseContext(date: server.date, isKeepAlive: false)
            respondFailure(failure, closing: true)
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
        context = ResponseContext(date: server.date, isKeepAlive: head.isKeepAlive && !server.isStopping,
                                  isHTTP10: head.isHTTP10, isHead: head.method == .head)
        inputStart = bodyEnd
        if server.accessLog != nil { logged = (head.method, Array(input[head.target]), MonotonicClock.nowNs()) }
        isDispatching = true
        server.handler.handle(head, input, body: head.bodyStart..<bodyEnd, on: self)
        isDispatching = false
    }

    private static let continueLine: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private func sendContinueIfExpected(_ head: HTTPRequestHead) {
        guard head.expectsContinue, !head.isHTTP10, !sentContinue else { return }
        sentContinue = true
        output.append(contentsOf: Self.continueLine)
    }

    private func compactInput() {
        if inputStart >= input.count {
            input.removeAll(keepingCapacity: input.capacity <= 64 * 1024)
            inputStart = 0
        } else if inputStart > 32 * 1024 && pendingHead == nil {
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
        if !isAwaitingResponse && input.count - inputStart <= Limits.connectionInputBytesMax { stream.startReading() }
    }

    private func flush() {
        if !output.isEmpty {
            stream.write(output)
            output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
        }
        finishIfDone()
    }

    /// Ends the connection once its last answer is out, if it is to end.
    private func finishIfDone() {
        guard !isClosed, !isAwaitingResponse, stream.queuedWriteBytes == 0 else { return }
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
        context = ResponseContext(date: server.date, isKeepAlive: false)
        respondFailure(HTTPParseFailure(.serviceUnavailable, "The server has too many connections; try again."), closing: true)
        flush()
    }

    // MARK: housekeeping (called by the server's cron)

    func checkTimeouts(nowMs: UInt64, limits: ServerLimits) {
        if isDraining {
            if nowMs - drainStartedMs >= Limits.lingerTimeoutMs { close() }
            return
        }
        if isAwaitingResponse { return }
        if let started = requestStartedMs, nowMs - started >= limits.headerTimeoutMs {
            requestStartedMs = nil
            pendingHead = nil
            context = ResponseContext(date: server.date, isKeepAlive: false)
            respondFailure(HTTPParseFailure(.requestTimeout, "The request did not arrive within \(limits.headerTimeoutMs) ms."), closing: true)
            flush()
        } else if requestStartedMs == nil, nowMs - lastActivityMs >= limits.idleTimeoutMs {
            close()
        }
    }

    /// Server shutdown: close now if nothing is in progress, else after the current answer.
    func closeWhenIdle() {
        if !isAwaitingResponse && stream.queuedWriteBytes == 0 {
            close()
        } else {
            closeAfterResponse = true
            context.isKeepAlive = false
        }
    }

    func close() {
        guard !isClosed else { return }
        stream.close()
    }
}
