// Everything the proxy keeps for one node: its connection pool, its wait queue, its health.
//
// Pool: up to `poolSize` keep-alive connections, each with up to `pipelineDepth` requests in
// flight. A request goes to the first connection with room (PoolChoice: requests that arrive
// together share one write); a new connection opens only when every open one is full; past
// the pool size, requests wait in a queue of at most `queueMax`. A full queue
// refuses the request at once (the caller fails over to the next replica or answers 503):
// memory stays bounded however slow a node gets.
//
// Health: a dedicated ping connection (so a ping never waits behind a busy pool) asks
// /_/health every ping interval with a deadline; failed requests count as misses too
// (passive detection). A down node gets no requests until a ping succeeds again. A node whose
// name does not resolve fails every connection at once (NameResolver), so it goes down after
// --down-after pings and nothing waits for it. The ping's answer also carries the node's id,
// which the sentinel compares between entries (HostsAliases.swift); an entry found to name a
// node another line already names is refused for good (`refuse`).
//
// Slow and frozen nodes (SlowNodeRules.swift): every answer's latency feeds the node's
// LatencyWindow; the proxy's late check (every Limits.lateCheckIntervalMs) finds requests
// older than the node's late limit: the node becomes suspect and each such request's
// `onLate` runs once (a read hedges, a write stops waiting). A node that sent nothing on any
// connection for --silence-to-down-ms while requests waited is down at once, and its
// connections and queue fail.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class NodeClient: NodeReplyObserver {
    let address: HostPort
    /// Position in the current ring's node list, and the hosts file's line that lists the node
    /// (both change when the hosts file is reloaded).
    var index: Int
    var line: Int
    private let loop: EventLoop
    private let options: ProxyOptions
    private let flusher: OutputFlusher
    private let resolver: NameResolver
    /// The id the node reported in its last answered ping (NodeIdentity), if any.
    private(set) var nodeID: String?
    private var pool: [NodeConnection] = []
    private var queue = FIFOQueue<NodeRequest>()
    private var pingConnection: NodeConnection?
    private var pingInFlight = false
    /// `GET /_/health` to this node, made once (InternalProtocol.swift).
    private let pingRequest: [UInt8]
    private(set) var health: NodeHealth
    private(set) var latency: LatencyWindow
    /// Called when the node's state or readiness changes.
    var onHealthChange: ((NodeClient) -> Void)?
    /// Called with every answered ping's report (the sentinel feeds the proxy's clock).
    var onReport: ((NodeClient, NodeReport) -> Void)?
    /// Called when the node answers 421: it serves a newer membership generation.
    var onNewerGeneration: (() -> Void)?
    /// The last answered ping's report.
    private(set) var lastReport: NodeReport?
    /// Set by `closeAll`: the client was let go (a reload) or the proxy is stopping.
    private var isClosed = false
    /// The node's clock as the last answered ping saw it (nil: none yet, or no clock reported).
    private(set) var clockSample: ClockSample?

    // Counters for /_/metrics.
    private(set) var requestsSent: UInt64 = 0
    private(set) var requestsFailed: UInt64 = 0
    private(set) var refusedQueueFull: UInt64 = 0
    private(set) var lateRequests: UInt64 = 0
    private(set) var silentDowns: UInt64 = 0

    init(entry: HostsEntry, index: Int, loop: EventLoop, options: ProxyOptions, flusher: OutputFlusher, resolver: NameResolver) {
        address = entry.address
        line = entry.line
        self.index = index
        self.loop = loop
        self.options = options
        self.flusher = flusher
        self.resolver = resolver
        health = NodeHealth(failuresToDown: options.failuresToDown, nowMs: loop.nowMs)
        latency = LatencyWindow(nowMs: loop.nowMs)
        pingRequest = InternalRequestEncoder(host: address.description, clusterToken: options.clusterToken).makeHealthPing()
    }

    var openConnections: Int { pool.count }
    var queuedRequests: Int { queue.count }

    /// Sends `bytes`; `completion` gets the answer or the failure, `onLate` runs if the request
    /// is found late first. Returns false (and never calls either) when the node is down or its
    /// queue is full.
    func submit(_ bytes: [UInt8], onLate: (() -> Void)? = nil, completion: @escaping (NodeReply) -> Void) -> Bool {
        guard health.isUsable, !isClosed else { return false }
        let now = loop.nowMs
        let request = NodeRequest(bytes: bytes, submittedMs: now, deadlineMs: now + options.nodeTimeoutMs, observer: self,
                                  completion: completion)
        request.onLate = onLate
        return enqueue(request)
    }

    /// Sends `bytes` for `waiter`, which gets the answer or the failure with `position` (and,
    /// if `tellsLate`, `nodeLate` if the request is found late first). Returns false (and tells
    /// the waiter nothing) when the node is down or its queue is full.
    func submit(_ bytes: [UInt8], to waiter: NodeReplyWaiter, position: Int, tellsLate: Bool) -> Bool {
        guard health.isUsable, !isClosed else { return false }
        let now = loop.nowMs
        return enqueue(NodeRequest(bytes: bytes, submittedMs: now, deadlineMs: now + options.nodeTimeoutMs, observer: self,
                                   waiter: waiter, position: position, tellsLate: tellsLate))
    }

    private func enqueue(_ request: NodeRequest) -> Bool {
        if let connection = connectionWithRoom() {
            requestsSent += 1
            connection.send(request)
            return true
        }
        // A connection that could not even start (its name does not resolve) refuses at once:
        // the caller fails over instead of queueing behind a node that cannot be reached.
        guard pool.count >= options.poolSize else { return false }
        guard queuedRequests < options.queueMax else {
            refusedQueueFull += 1
            return false
        }
        requestsSent += 1
        queue.append(request)
        return true
    }

    private func connectionWithRoom() -> NodeConnection? {
        switch PoolChoice.pick(pending: pool.lazy.map(\.pendingCount), pipelineDepth: options.pipelineDepth, poolSize: options.poolSize) {
        case .use(let position): return pool[position]
        case .open: return openConnection()
        case .full: return nil
        }
    }

    private func openConnection() -> NodeConnection? {
        let connection = NodeConnection(address: address, loop: loop, flusher: flusher, resolver: resolver,
                                        connectTimeoutMs: options.connectTimeoutMs)
        guard !connection.isClosed else {
            noteFailure()
            return nil
        }
        connection.onClose = { [unowned self] closed, reason in self.connectionClosed(closed, reason: reason) }
        pool.append(connection)
        return connection
    }

    private func connectionClosed(_ connection: NodeConnection, reason: String?) {
        pool.removeAll { $0 === connection }
        if reason != nil { noteFailure() }
        drainQueue()
    }

    /// Passive health: an answer below 500 is a success, a 5xx a failure. A failed connection
    /// was already counted once by `connectionClosed`, however many requests it carried.
    func observe(_ reply: NodeReply, submittedMs: UInt64) {
        let now = loop.nowMs
        latency.record(now &- submittedMs, nowMs: now)
        switch reply {
        case .answered(421, _, _, _):
            onNewerGeneration?()
        case .answered(let status, _, _, let isRecovering) where status < 500:
            let readiness: NodeReadiness? = isRecovering ? .recovering : nil
            if health.recordSuccess(nowMs: loop.nowMs, readiness: readiness) { onHealthChange?(self) }
        case .answered:
            requestsFailed += 1
            noteFailure()
        case .failed:
            requestsFailed += 1
        }
        drainQueue()
    }

    private func noteFailure() {
        if health.recordFailure(nowMs: loop.nowMs) {
            onHealthChange?(self)
            if !health.isUsable { failQueue("\(address) is down") }
        }
    }

    /// Moves waiting requests onto connections with room.
    private func drainQueue() {
        while !queue.isEmpty, health.isUsable, !isClosed, let connection = connectionWithRoom() {
            connection.send(queue.popFirst()!)
        }
    }

    private func failQueue(_ reason: String) {
        for request in queue.removeAll() { request.finish(.failed(reason)) }
    }

    // MARK: health pings and housekeeping

    /// Sends a ping unless one is still waiting for its answer (its deadline then decides).
    func ping() {
        guard !pingInFlight, !isClosed, health.state != .refused else { return }
        if pingConnection == nil || pingConnection!.isClosed {
            pingConnection = NodeConnection(address: address, loop: loop, flusher: flusher, resolver: resolver,
                                            connectTimeoutMs: options.pingTimeoutMs)
        }
        let sentMs = loop.nowMs
        let sentMonotonicMs = MonotonicClock.nowMs()
        pingInFlight = true
        let request = NodeRequest(bytes: pingRequest, submittedMs: sentMs, deadlineMs: sentMs + options.pingTimeoutMs) { [unowned self] reply in
            self.pingInFlight = false
            self.pingAnswered(reply, sentMs: sentMs, sentMonotonicMs: sentMonotonicMs)
        }
        pingConnection!.send(request)
    }

    private func pingAnswered(_ reply: NodeReply, sentMs: UInt64, sentMonotonicMs: UInt64) {
        let now = loop.nowMs
        let changed: Bool
        if case .answered(200, _, let body, _) = reply {
            let report = NodeReport.parse(body)
            nodeID = report.nodeID
            lastReport = report
            clockSample = report.wallClockMs.map {
                ClockSample(sentMonotonicMs: sentMonotonicMs, receivedMonotonicMs: MonotonicClock.nowMs(),
                            receivedWallMs: WallClock.nowMs(), nodeWallMs: $0)
            }
            changed = health.recordPing(nowMs: now, roundTripMs: now - sentMs, report: report)
            onReport?(self, report)
            drainQueue()
        } else {
            changed = health.recordFailure(nowMs: now, isPing: true)
            if changed && !health.isUsable { failQueue("\(address) is down") }
        }
        if changed { onHealthChange?(self) }
    }

    // MARK: slow and frozen nodes

    /// Finds requests past the node's late limit (the proxy's late check): the node becomes
    /// suspect and each such request's `onLate` runs once.
    func findLate(nowMs: UInt64) {
        let lateAfterMs = latency.lateAfterMs
        guard let oldest = oldestWaitingMs(includingPing: false), oldest + lateAfterMs <= nowMs else { return }
        health.suspect()
        var late = NodeRequest.late(in: queue.elements, nowMs: nowMs, lateAfterMs: lateAfterMs)
        for connection in pool { late += connection.lateRequests(nowMs: nowMs, lateAfterMs: lateAfterMs) }
        lateRequests += UInt64(late.count)
        for request in late { request.becameLate() }
    }

    /// When the oldest request still waiting for this node was made.
    private func oldestWaitingMs(includingPing: Bool) -> UInt64? {
        var oldest = queue.first?.submittedMs
        for connection in pool {
            if let made = connection.oldestSubmittedMs { oldest = min(oldest ?? made, made) }
        }
        if includingPing, let made = pingConnection?.oldestSubmittedMs { oldest = min(oldest ?? made, made) }
        return oldest
    }

    /// Down at once when the node sent nothing for the silence limit while requests waited.
    private func checkSilence(nowMs: UInt64) {
        guard health.isUsable, let oldest = oldestWaitingMs(includingPing: true), nowMs >= oldest + options.silenceToDownMs else { return }
        let heard = pool.reduce(pingConnection?.lastHeardMs ?? 0) { max($0, $1.lastHeardMs) }
        guard nowMs >= heard + options.silenceToDownMs else { return }
        silentDowns += 1
        if health.recordSilence(nowMs: nowMs) { onHealthChange?(self) }
        let reason = "\(address) sent nothing for \(nowMs - max(heard, oldest)) ms while requests waited (--silence-to-down-ms)"
        for connection in pool { connection.fail(reason) }
        pingConnection?.fail(reason)
        failQueue(reason)
    }

    /// Fails requests past their deadlines (called by the housekeeping tick).
    func checkDeadlines(nowMs: UInt64) {
        checkSilence(nowMs: nowMs)
        for connection in pool { connection.checkDeadlines(nowMs: nowMs) }
        pingConnection?.checkDeadlines(nowMs: nowMs)
        while let request = queue.first, nowMs >= request.deadlineMs {
            queue.popFirst()
            request.finish(.failed("\(address) queue wait timed out"))
        }
    }

    /// Another line of the hosts file names this node: never used again (`reason` says why);
    /// a reload of the hosts file makes a new client.
    func refuse(_ reason: String) {
        guard health.refuse(nowMs: loop.nowMs) else { return }
        for connection in pool { connection.fail(nil) }
        pool.removeAll()
        failQueue("\(address) is refused: \(reason)")
        onHealthChange?(self)
    }

    /// Closes every connection and fails every request, for good: the client takes no request
    /// after it (a failure's callback may submit again, e.g. a read asking its next replica:
    /// it must not open a connection that would keep a stopping proxy's loop alive).
    func closeAll() {
        isClosed = true
        onHealthChange = nil
        onReport = nil
        onNewerGeneration = nil
        failQueue("proxy stopping")
        let connections = pool
        pool.removeAll()
        for connection in connections { connection.fail(nil) }
        pingConnection?.fail(nil)
        pingConnection = nil
    }
}
