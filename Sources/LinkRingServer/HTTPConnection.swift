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
//
// Back-pressure (ConnectionFlow.swift has the rules, `ConnectionBudget` the limits): parsing
// stops while answers owed or unsent output are past their limits, reading stops while parsing
// cannot go on and the unparsed input is past its limit. Every event that lowers the load ends
// in `serve()`, which parses, writes and decides again, so reading always resumes once the
// answers drain, whether the socket took them at once or later. Answers given while earlier
// ones are still queued in the socket wait in `output` and leave as one write when the queue
// drains (one `uv_write_t` in flight, not one per answer). An idle connection gives its
// buffers back (`Limits.connectionBufferReleaseIdleMs`).
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
    private let budget: ConnectionBudget
    var registryIndex = -1
    /// Accepted past a connection limit: answered 503 and closed.
    var rejectAsOverloaded = false
    /// The client's address, when the connection counts against its per-address limit.
    var peer: PeerAddress? = nil

    private var input: [UInt8] = []
    private var inputStart = 0
    /// Answers not yet handed to the socket (while earlier ones are queued there, they wait here).
    private var output: [UInt8] = []
    /// Bytes of answers given and waiting in their slots behind an earlier, unanswered one.
    private var heldAnswerBytes = 0
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
    /// Requests handled in the loop turn whose cached time is `turnMs`; at
    /// Limits.connectionRequestsPerTurnMax the connection waits for the server's next turn.
    private var requestsThisTurn = 0
    private var turnMs: UInt64 = 0
    private var hasUsedTurn = false
    private var isDraining = false
    private var peerEnded = false
    /// `close()` was called; `isClosed` follows in the close callback.
    private var isClosing = false
    package private(set) var isClosed = false

    var requestStartedMs: UInt64? = nil
    var lastActivityMs: UInt64
    var drainStartedMs: UInt64 = 0

    init(stream: TCPStream, server: HTTPServer) {
        self.stream = stream
        self.server = server
        budget = server.budget
        lastActivityMs = server.loop.nowMs
        stream.delegate = self
        try? stream.setNoDelay(true)  // fails only on a socket already reset: the next read reports it
    }

    func start() { stream.startReading() }

    // MARK: answering (for handlers)

    /// Whether the request being handled is a HEAD (headers only).
    package var isHeadRequest: Bool { context.isHead }

    /// The open client connections of the public listener (status pages), also when this
    /// connection came to the admin listener.
    package var publicConnectionCount: Int { server.publicConnectionCount }

    /// Nil when the request being handled may read the operator routes, else the 403 to answer
    /// (the server's `operatorAccess`, OperatorAccess.swift).
    package func operatorRefusal(_ head: HTTPRequestHead) -> HTTPParseFailure? {
        server.operatorAccess.refusal(isForwarded: head.isForwarded) { isPeerOnThisHost }
    }

    /// Whether the peer is this host, asked of the socket once per connection, and only when needed.
    private lazy var isPeerOnThisHost: Bool = stream.addresses().map { PeerLocality.isThisHost(peer: $0.peer, local: $0.local) } ?? false

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

    /// What the connection holds now, for the back-pressure rules.
    private var load: ConnectionLoad {
        ConnectionLoad(unparsedInputBytes: input.count - inputStart,
                       unsentOutputBytes: output.count + stream.queuedWriteBytes + heldAnswerBytes,
                       answersOwed: slots.count, blockingAnswersOwed: blockingSlots, hasUsedTurn: hasUsedTurn)
    }

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
        heldAnswerBytes += bytes.count
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
        guard !isDispatching, !server.gather(self) else { return }
        serve()
    }

    /// Set while the server holds this connection's answers for one write (`answeringTogether`).
    var isGathered = false

    /// The answers gathered while the server answered a batch leave now, in one write.
    func serveGathered() {
        isGathered = false
        serve()
    }

    /// Moves answered slots at the head of the queue into the output.
    private func releaseAnsweredSlots() {
        while let slot = slots.first, let bytes = slot.bytes {
            slots.popFirst()
            heldAnswerBytes -= bytes.count
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
        serve()
    }

    package func streamDidEnd(_ stream: TCPStream, error: UVError?) {
        peerEnded = true
        if error != nil || isDraining || isSent { close() }
    }

    /// The socket took every queued write: answers that waited meanwhile leave now, and
    /// parsing and reading resume if they were held back.
    package func streamDidFlush(_ stream: TCPStream) {
        serve()
    }

    package func streamDidClose(_ stream: TCPStream) {
        isClosing = true
        isClosed = true
        for slot in slots.removeAll() { slot.connection = nil }  // answers that come later go nowhere
        server.connectionDidClose(self)
    }

    // MARK: request processing

    private var mayParse: Bool {
        !isClosing && !noMoreRequests && !closeAfterResponse && budget.mayParse(load)
    }

    /// Every answer given is sent: nothing owed, waiting here or queued in the socket.
    private var isSent: Bool { pendingAnswers == 0 && output.isEmpty && stream.queuedWriteBytes == 0 }

    /// Parses and answers what the input holds, writes the answers, and decides whether to read
    /// on. Every event that changes the connection's load (bytes read, an answer given, the
    /// socket's queue drained) ends here. When the output fills, it is written and parsing goes
    /// on as long as the socket takes it at once.
    private func serve() {
        guard !isClosed else { return }
        parseRequests()
        while budget.isOutputFull(load) && writeOutput() && mayParse { parseRequests() }
        writeOutput()
        compactInput()
        updateReading()
        finishIfDone()
    }

    private func parseRequests() {
        while mayParse {
            if pendingHead == nil {
                inputStart = HTTPRequestParser.skipEmptyLines(input, from: inputStart, to: input.count)
            }
            guard inputStart < input.count else { break }
            guard let head = nextHead() else {
                noteRequestIncomplete()
                break
            }
            let bodyEnd = head.bodyStart + head.contentLength
            guard bodyEnd <= input.count else {
                pendingHead = head
                noteRequestIncomplete()
                sendContinueIfExpected(head)
                break
            }
            dispatch(head, bodyEnd: bodyEnd)
            countRequestThisTurn()
        }
    }

    /// Counts a handled request against the turn's share; at the share, the rest of the
    /// pipeline waits for the next turn (`takeTurn`).
    private func countRequestThisTurn() {
        let now = server.loop.nowMs
        if now != turnMs {
            turnMs = now
            requestsThisTurn = 0
        }
        requestsThisTurn += 1
        guard requestsThisTurn >= Limits.connectionRequestsPerTurnMax, !hasUsedTurn else { return }
        hasUsedTurn = true
        server.serveNextTurn(self)
    }

    /// The server's next turn: a new share of requests, and the pipeline goes on.
    func takeTurn() {
        hasUsedTurn = false
        requestsThisTurn = 0
        turnMs = server.loop.nowMs
        serve()
    }

    /// Starts the header time-out of a request whose first bytes are here but not all of it, at
    /// the moment it is seen so: late in a long turn of the loop, its cached time is stale.
    private func noteRequestIncomplete() {
        guard requestStartedMs == nil, !noMoreRequests else { return }
        requestStartedMs = server.loop.freshNowMs()
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

    /// Starts or stops reading from the socket as the back-pressure rules say (not while the
    /// conversation is ending: then everything read is discarded, and the end is watched for).
    private func updateReading() {
        guard !isClosing, !isDraining, !noMoreRequests else { return }
        if budget.shouldRead(load) { stream.startReading() } else { stream.stopReading() }
    }

    /// Hands the answers to the socket, unless earlier ones are still queued there: then they
    /// wait here and leave as one write when the queue drains (`streamDidFlush`). True when
    /// something was handed over.
    @discardableResult
    private func writeOutput() -> Bool {
        guard !output.isEmpty, stream.queuedWriteBytes == 0 else { return false }
        stream.write(output)
        output.removeAll(keepingCapacity: output.capacity <= Limits.connectionBufferKeptBytesMax)
        return true
    }

    /// Ends the connection once its last answer is out, if it is to end.
    private func finishIfDone() {
        guard !isClosed, isSent else { return }
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

    /// Answers 503 at once with `reason` and ends the connection (accepted past a connection limit).
    func reject(_ reason: String) {
        rejectAsOverloaded = true
        answerAndEnd(HTTPParseFailure(.serviceUnavailable, reason))
        serve()
    }

    // MARK: housekeeping (called by the server's cron)

    func checkTimeouts(nowMs: UInt64, limits: ServerLimits) {
        if isDraining {
            if nowMs - drainStartedMs >= Limits.lingerTimeoutMs { close() }
            return
        }
        if pendingAnswers > 0 { return }
        if let started = requestStartedMs, nowMs >= started + limits.headerTimeoutMs {
            requestStartedMs = nil
            pendingHead = nil
            answerAndEnd(HTTPParseFailure(.requestTimeout, "The request did not arrive within \(limits.headerTimeoutMs) ms."))
            serve()
        } else if requestStartedMs == nil, nowMs - lastActivityMs >= limits.idleTimeoutMs {
            close()
        } else if requestStartedMs == nil, nowMs - lastActivityMs >= Limits.connectionBufferReleaseIdleMs {
            releaseBuffers()
        }
    }

    /// Gives an idle connection's buffers back: memory follows active work, not past peaks.
    private func releaseBuffers() {
        if inputStart == input.count && input.capacity > 0 {
            input = []
            inputStart = 0
        }
        if output.isEmpty && output.capacity > 0 { output = [] }
    }

    /// When the connection went idle (no request begun, nothing owed, unsent or unparsed:
    /// closing it loses nothing), or nil when it is not idle.
    var idleSinceMs: UInt64? {
        guard !isClosing, !isDraining, !rejectAsOverloaded, requestStartedMs == nil, isSent, inputStart == input.count else { return nil }
        return lastActivityMs
    }

    /// Server shutdown: close now if nothing is in progress, else after the last answer.
    func closeWhenIdle() {
        noMoreRequests = true
        if isSent { close() }
    }

    func close() {
        guard !isClosed else { return }
        isClosing = true
        stream.close()
    }
}
