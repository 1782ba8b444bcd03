// One keep-alive connection to a node (from the proxy, or from a peer node repairing), with
// requests pipelined on it.
//
//   address ─NameResolver─▶ numeric address (at once for a numeric host or a name it knows;
//        else after the name's first lookup) ─▶ TCP connect; a name that does not resolve
//        fails the connection at once, a lookup still silent at the connect deadline too
//   send(): bytes appended to `output`, request appended to `inFlight`
//        ─(end of loop iteration, all dirty connections)─▶ one write per connection
//   socket ─▶ input ─▶ HTTPResponseParser ─▶ the oldest request in flight gets its reply
//
// Answers come back in request order (HTTP/1.1 pipelining), so the i-th response belongs to
// the i-th request sent. Any failure of the connection (connect error, reset, malformed
// answer, a request past its deadline) fails EVERY request on it, because after that the
// order can no longer be trusted; the connection is closed and the pool opens a new one.

import LinkRingCore
import LinkRingUV

/// What a node request ended with.
package enum NodeReply {
    /// An answer; `isRecovering` when the node said it is still catching up (X-Recovering).
    case answered(status: Int, version: UInt64?, body: [UInt8], isRecovering: Bool)
    case failed(String)
}

/// Told of every reply before the request's own completion (the proxy's node health counts
/// them, and its latency): one reference instead of a wrapping closure allocated per request.
package protocol NodeReplyObserver: AnyObject {
    func observe(_ reply: NodeReply, submittedMs: UInt64)
}

/// Waits for the replies of the node requests one client request makes (a read's replicas, a
/// write's fan-out), each told with the position it was sent with: one object per client
/// request, where a completion and a late callback per node request cost two allocations and
/// the retains of their captures.
package protocol NodeReplyWaiter: AnyObject {
    func nodeReplied(_ reply: NodeReply, position: Int)
    /// The request at `position` was found late, before its reply (at most once).
    func nodeLate(position: Int)
}

/// A request for a node: its bytes, when it was made and its deadline (loop milliseconds), and
/// who waits for the answer: a completion, or a `NodeReplyWaiter` with the request's position.
/// `onLate` (or the waiter's `nodeLate`, if it asked) runs once if the proxy finds it late
/// (still unanswered past its node's late limit, SlowNodeRules.swift) before the answer or the
/// deadline.
package final class NodeRequest {
    package let bytes: [UInt8]
    package let submittedMs: UInt64
    package let deadlineMs: UInt64
    private let observer: NodeReplyObserver?
    private let completion: ((NodeReply) -> Void)?
    private let waiter: NodeReplyWaiter?
    private let position: Int
    package var onLate: (() -> Void)?
    /// The waiter is to be told if the request is late, and has not been yet.
    private var waiterAwaitsLate: Bool

    package init(bytes: [UInt8], submittedMs: UInt64 = 0, deadlineMs: UInt64, observer: NodeReplyObserver? = nil,
                 completion: @escaping (NodeReply) -> Void) {
        self.bytes = bytes
        self.submittedMs = submittedMs
        self.deadlineMs = deadlineMs
        self.observer = observer
        self.completion = completion
        waiter = nil
        position = 0
        waiterAwaitsLate = false
    }

    package init(bytes: [UInt8], submittedMs: UInt64, deadlineMs: UInt64, observer: NodeReplyObserver?, waiter: NodeReplyWaiter,
                 position: Int, tellsLate: Bool) {
        self.bytes = bytes
        self.submittedMs = submittedMs
        self.deadlineMs = deadlineMs
        self.observer = observer
        completion = nil
        self.waiter = waiter
        self.position = position
        waiterAwaitsLate = tellsLate
    }

    /// Someone is still to be told if the request is late.
    package var awaitsLate: Bool { onLate != nil || waiterAwaitsLate }

    /// Delivers the reply: to the observer, then to the completion or the waiter.
    package func finish(_ reply: NodeReply) {
        onLate = nil
        waiterAwaitsLate = false
        observer?.observe(reply, submittedMs: submittedMs)
        if let waiter { waiter.nodeReplied(reply, position: position) } else { completion?(reply) }
    }

    /// Runs `onLate`, or tells the waiter, once.
    package func becameLate() {
        if let late = onLate {
            onLate = nil
            late()
        } else if waiterAwaitsLate {
            waiterAwaitsLate = false
            waiter?.nodeLate(position: position)
        }
    }
}

package final class NodeConnection: TCPStreamDelegate {
    private let address: HostPort
    private let loop: EventLoop
    private let flusher: OutputFlusher
    private let resolver: NameResolver
    /// Set while the connection waits for its name's first lookup.
    private var nameWaitID: Int?
    private var stream: TCPStream?
    private var isConnected = false
    package private(set) var isClosed = false
    /// Why the connection failed, for requests sent after (a name that does not resolve).
    private var failure: String?
    private var connectDeadlineMs: UInt64 = 0
    private var inFlight = FIFOQueue<NodeRequest>()
    private var output: [UInt8] = []
    private var input: [UInt8] = []
    private var isMarkedDirty = false
    /// When the node last sent anything on this connection (loop milliseconds; 0: never). A
    /// connect that succeeds says nothing: a frozen process's kernel still accepts.
    package private(set) var lastHeardMs: UInt64 = 0
    /// Called once when the connection fails or closes (with the reason, nil on a clean close).
    package var onClose: ((NodeConnection, String?) -> Void)?

    /// Connects to `address` (resolved through `resolver`); a connection that fails at once
    /// is `isClosed` when this returns.
    package init(address: HostPort, loop: EventLoop, flusher: OutputFlusher, resolver: NameResolver, connectTimeoutMs: UInt64) {
        self.address = address
        self.loop = loop
        self.flusher = flusher
        self.resolver = resolver
        connectDeadlineMs = loop.nowMs + connectTimeoutMs
        // No weak reference to a connection to a numeric address (every proxied request's):
        // one would give the object a side table, and every retain and release of it the
        // runtime's slow path. A name's waiter may outlive a connection dropped before the
        // answer, so it holds the connection weakly.
        if address.isNumericAddress {
            connect(to: .address(address))
        } else {
            nameWaitID = resolver.connectAddress(for: address) { [weak self] target in self?.connect(to: target) }
        }
    }

    private func connect(to target: ConnectTarget) {
        nameWaitID = nil
        guard !isClosed else { return }
        switch target {
        case .address(let numeric):
            do {
                // Held strongly, as the stream holds its delegate (this connection) until it is
                // closed, and runs the completion exactly once (UV_ECANCELED if closed first).
                stream = try TCPStream.connect(loop: loop, host: numeric.host, port: numeric.port) { error in
                    self.didConnect(error)
                }
                stream?.delegate = self
            } catch {
                fail("connect to \(address): \(error)")
            }
        case .unreachable(let reason):
            fail("\(address): \(reason)")
        }
    }

    /// Requests sent or waiting to be sent on this connection.
    package var pendingCount: Int { inFlight.count }
    /// When the oldest request still waiting for its answer was made.
    package var oldestSubmittedMs: UInt64? { inFlight.first?.submittedMs }

    /// The requests made at least `lateAfterMs` ago whose `onLate` has still to run, oldest
    /// first (the scan stops at the first younger one). The caller runs them once every walk is
    /// over (`NodeRequest.late(in:)`).
    package func lateRequests(nowMs: UInt64, lateAfterMs: UInt64) -> [NodeRequest] {
        NodeRequest.late(in: inFlight.elements, nowMs: nowMs, lateAfterMs: lateAfterMs)
    }

    package func send(_ request: NodeRequest) {
        guard !isClosed else { return request.finish(.failed(failure ?? "connection to \(address) closed")) }
        output.append(contentsOf: request.bytes)
        inFlight.append(request)
        guard isConnected, !isMarkedDirty else { return }
        isMarkedDirty = true
        flusher.markDirty(self)
    }

    /// Writes what `send` buffered (called once per loop iteration by the flusher).
    func flush() {
        isMarkedDirty = false
        guard isConnected, !isClosed, !output.isEmpty else { return }
        stream?.write(output)
        output.removeAll(keepingCapacity: output.capacity <= Limits.connectionBufferKeptBytesMax)
    }

    private func didConnect(_ error: UVError?) {
        guard !isClosed else { return }
        if let error { return fail("connect to \(address): \(error.message)") }
        isConnected = true
        stream?.startReading()
        flush()
    }

    /// Fails everything past its deadline (called by the proxy's housekeeping tick).
    package func checkDeadlines(nowMs: UInt64) {
        guard !isClosed else { return }
        if !isConnected && nowMs >= connectDeadlineMs {
            return fail(nameWaitID == nil ? "connect to \(address) timed out" : "\(address): \(NameRecord.slowReason)")
        }
        if let oldest = inFlight.first, nowMs >= oldest.deadlineMs {
            fail("\(address) did not answer in time")
        }
    }

    package func streamDidRead(_ stream: TCPStream, _ bytes: ReadBytes) {
        lastHeardMs = loop.nowMs
        bytes.append(to: &input)
        var start = 0
        while !inFlight.isEmpty {
            switch HTTPResponseParser.parse(input, from: start, to: input.count) {
            case .needMore:
                return compact(consumed: start)
            case .failure(let reason):
                return fail("bad answer from \(address): \(reason)")
            case .response(let head):
                let request = inFlight.popFirst()!
                start = head.end
                request.finish(.answered(status: head.status, version: head.version, body: Array(input[head.body]),
                                          isRecovering: head.isRecovering))
                if !head.isKeepAlive { return fail(nil) }
                if isClosed { return }
            }
        }
        if start < input.count { return fail("\(address) sent an answer nobody asked for") }
        compact(consumed: start)
    }

    private func compact(consumed: Int) {
        if consumed == input.count {
            input.removeAll(keepingCapacity: input.capacity <= Limits.connectionBufferKeptBytesMax)
        } else if consumed > 0 {
            input.removeFirst(consumed)
        }
    }

    package func streamDidEnd(_ stream: TCPStream, error: UVError?) {
        fail(error.map { "\(address): \($0.message)" } ?? (pendingCount > 0 ? "\(address) closed the connection" : nil))
    }

    package func streamDidFlush(_ stream: TCPStream) {}

    package func streamDidClose(_ stream: TCPStream) {
        self.stream = nil
    }

    /// Closes the connection and fails every request on it (`reason` nil: a clean close).
    package func fail(_ reason: String?) {
        guard !isClosed else { return }
        isClosed = true
        failure = reason
        if let nameWaitID { resolver.cancelWait(nameWaitID, name: address.host) }
        nameWaitID = nil
        stream?.close()
        let failed = inFlight.removeAll()
        output.removeAll()
        let callback = onClose
        onClose = nil
        callback?(self, reason)
        for request in failed { request.finish(.failed(reason ?? "connection to \(address) closed")) }
    }
}

extension NodeRequest {
    /// The late-request scan over requests in the order they were made: those made at least
    /// `lateAfterMs` before `nowMs` with an `onLate` (or a waiter's `nodeLate`) still to run.
    /// It only collects: an `onLate` answers clients, sends hedges and retries, may close this
    /// very connection, so it runs after the walk (`becameLate`, which skips a request answered
    /// meanwhile), never inside it (docs/DECISIONS.md, "Slow and frozen nodes": the proxy
    /// crashed inside such a walk).
    package static func late(in requests: some Sequence<NodeRequest>, nowMs: UInt64, lateAfterMs: UInt64) -> [NodeRequest] {
        var found: [NodeRequest] = []
        for request in requests {
            guard request.submittedMs + lateAfterMs <= nowMs else { break }
            if request.awaitsLate { found.append(request) }
        }
        return found
    }
}

/// Collects connections with buffered requests and writes each once per loop iteration, so
/// the requests of many clients that arrive together share one write per node connection.
package final class OutputFlusher {
    private var dirty: [NodeConnection] = []
    /// The batch being flushed: swapped with `dirty`, so that neither array is ever copied
    /// (a copy and `removeAll(keepingCapacity:)` of the shared one allocated at every flush).
    private var flushing: [NodeConnection] = []
    private var hook: IterationHook?

    package init(loop: EventLoop) {
        hook = IterationHook(loop: loop) { [unowned self] in self.flushAll() }
    }

    func markDirty(_ connection: NodeConnection) {
        dirty.append(connection)
        hook?.start()
    }

    private func flushAll() {
        hook?.stop()
        swap(&dirty, &flushing)
        for connection in flushing { connection.flush() }
        flushing.removeAll(keepingCapacity: true)
    }

    /// Stops flushing; connections still waiting are let go (they hold the flusher too).
    package func close() {
        hook?.close()
        hook = nil
        dirty.removeAll()
    }
}
