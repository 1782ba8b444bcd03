// An HTTP/1.1 server on the loop: accepts connections, keeps the registry the cron walks, the
// cached Date header, and a graceful stop.
//
// One housekeeping duty on the process's cron (`Limits.serverHousekeepingIntervalMs`, as
// Redis's serverCron) replaces a timer per connection: it refreshes the Date bytes when the second changes and checks every
// connection's header, idle and linger time-outs.
//
// Admission, in order (docs/DECISIONS.md "Connection limits and fairness"):
//   1. an address that already holds `connectionsPerAddressMax` connections gets a 503, so one
//      client cannot take every slot while others are served;
//   2. at `connectionsMax`, the connection idle longest (at least
//      `Limits.idleConnectionEvictionMsMin`: no request begun, nothing owed) is closed to make
//      room, as Redis and nginx shed idle clients before refusing busy ones;
//   3. with none idle, the new connection gets a 503.
// A 503 is short and the connection is then closed; at most `Limits.rejectedConnectionsMax` such
// answers are in flight, past that a new connection is closed at once, so a flood cannot grow
// memory without bound. Refusals are logged rate-limited. After many connections closed, the
// cron gives the heap's freed memory back (`HeapMemory.giveBackFreed`, at most once per
// `Limits.memoryTrimIntervalMs`): glibc keeps it otherwise. When accept
// itself fails (out of file descriptors: EMFILE, ENFILE; or memory) the listener pauses and
// retries (`Limits.acceptRetryDelayMs`); the failures are logged rate-limited
// (`RepeatedFailureReport`), and one line says when accepting works again.
//
// A server may own an admin listener (--admin-listen): a second HTTPServer on the same loop and
// cron, with the same time-outs and its own connection budget (`Limits.adminConnectionsMax`), whose
// handler serves only the operator routes. It stops and closes with its owner, and reports its
// owner's connections (`publicConnectionCount`), not its own. `operatorAccess` says who may read
// the operator routes on a server's connections (OperatorAccess.swift; everyone on the admin one).

import LinkRingCore
import LinkRingUV

package final class HTTPServer {
    let loop: EventLoop
    let handler: HTTPRequestHandler
    package let limits: ServerLimits
    /// Each connection's back-pressure limits (the production ones unless a test sets smaller).
    let budget: ConnectionBudget
    private var listener: TCPListener?
    private var connections: [HTTPConnection] = []
    private var rejecting = 0
    /// Admitted connections per client address (an address with none has no entry).
    private var connectionsPerAddress: [PeerAddress: Int] = [:]
    private var refusals = RepeatedFailureReport()
    private var closedSinceTrim = 0
    private var lastTrimMs: UInt64 = 0
    private let cron: Cron
    /// True when the server made its own cron (no process cron given): it closes it on stop.
    private let ownsCron: Bool
    private var housekeeping: CronDuty?
    private var timeoutJudge = TimeoutJudge(periodMs: Limits.serverHousekeepingIntervalMs)
    private var dateSecond: Int64 = -1
    private var onStopped: (() -> Void)?
    private var acceptFailures = RepeatedFailureReport()
    /// Depth of `answeringTogether` calls, and the connections given answers meanwhile.
    private var gatheringDepth = 0
    private var gathered: [HTTPConnection] = []
    /// Connections that handled their share of a turn (Limits.connectionRequestsPerTurnMax),
    /// served again next turn by `nextTurn` (made at first need).
    private var waitingForTurn: [HTTPConnection] = []
    private var nextTurn: NextTurnWork?

    /// The current `Date` header value (29 bytes), refreshed by the cron.
    package private(set) var date: [UInt8] = []
    /// Set once `stop` was called: answers carry `Connection: close`.
    package private(set) var isStopping = false
    var connectionCount: Int { connections.count }
    /// Set to log every request (--access-log), on the admin listener too.
    package var accessLog: AccessLog? {
        didSet { admin?.accessLog = accessLog }
    }
    /// Who may read the operator routes on this server's connections.
    package var operatorAccess = OperatorAccess.everyone
    /// The admin listener this server owns, until it has stopped.
    private var admin: HTTPServer?
    /// For an admin listener: the server it serves the operators of.
    private weak var publicServer: HTTPServer?
    private var isStopped = false
    /// The open connections of the public listener (an admin listener reports its owner's).
    var publicConnectionCount: Int { (publicServer ?? self).connectionCount }

    /// `cron` is the process's one periodic tick; a server alone (a test) passes none and
    /// runs its own, closed when the server has stopped.
    package init(loop: EventLoop, limits: ServerLimits, handler: HTTPRequestHandler, cron: Cron? = nil,
                 budget: ConnectionBudget = ConnectionBudget()) {
        self.loop = loop
        self.limits = limits
        self.budget = budget
        self.handler = handler
        self.cron = cron ?? Cron(loop: loop)
        ownsCron = cron == nil
        refreshDate()
    }

    /// Binds and listens; returns the bound address ("listening on" prints it).
    package func start(host: String, port: Int) throws -> (host: String, port: Int) {
        let listener = try TCPListener(loop: loop, host: host, port: port)
        try listener.listen(backlog: Int32(Limits.listenBacklogMax), acceptsPerWakeup: Limits.acceptsPerWakeupMax, retryDelayMs: Limits.acceptRetryDelayMs,
                            onConnection: { [unowned self] stream in self.accept(stream) },
                            onAcceptError: { [unowned self] error in self.acceptFailed(error) })
        self.listener = listener
        housekeeping = cron.every(Limits.serverHousekeepingIntervalMs, "server housekeeping") { self.tick() }
        return listener.boundAddress() ?? (host, port)
    }

    /// Applies --admin-listen and --admin-on-public: who may read the operator routes on this
    /// server, and the admin listener, answering with `adminHandler`, when one is named. Returns
    /// the admin listener's bound address, or nil.
    package func serveOperatorRoutes(_ options: AdminOptions, adminHandler: HTTPRequestHandler) throws -> HostPort? {
        precondition(admin == nil && publicServer == nil, "one admin listener, owned by a public server")
        operatorAccess = options.publicAccess
        guard let listen = options.listen else { return nil }
        var adminLimits = limits
        adminLimits.connectionsMax = min(limits.connectionsMax, Limits.adminConnectionsMax)
        let admin = HTTPServer(loop: loop, limits: adminLimits, handler: adminHandler, cron: cron)
        admin.publicServer = self
        admin.accessLog = accessLog
        do {
            let bound = try admin.start(host: listen.host, port: listen.port)
            self.admin = admin
            return HostPort(host: bound.host, port: bound.port)
        } catch {
            throw CommandLineError("--admin-listen \(listen): \(error)")
        }
    }

    private func acceptFailed(_ error: UVError) {
        Log.failure(&acceptFailures, nowMs: loop.nowMs,
                    first: "\(error); new connections wait in the backlog, accept is retried every \(Limits.acceptRetryDelayMs) ms",
                    summary: { "\(error): \($0) more failed accepts in \($1) s" })
    }

    private func accept(_ stream: TCPStream) {
        if acceptFailures.isFailing {
            Log.recovery(&acceptFailures, nowMs: loop.nowMs) { "accepting connections again, after \($0) failed accepts in \($1) ms" }
        }
        let connection = HTTPConnection(stream: stream, server: self)
        let peer = stream.peerAddress()
        if let refusal = admissionRefusal(peer) { return reject(connection, from: peer, refusal) }
        connection.peer = peer
        if let peer { connectionsPerAddress[peer, default: 0] += 1 }
        register(connection)
        connection.start()
    }

    /// Nil when a connection from `peer` may be served, else why not (its 503's sentence).
    private func admissionRefusal(_ peer: PeerAddress?) -> String? {
        if isStopping { return "The server is stopping; try again." }
        if let peer, let held = connectionsPerAddress[peer], held >= limits.connectionsPerAddressMax {
            return "Your address has too many connections open (\(held)); close some and try again."
        }
        if connections.count - rejecting >= limits.connectionsMax && !closeLongestIdleConnection() {
            return "The server has too many connections; try again."
        }
        return nil
    }

    /// Closes the connection idle longest, if one has been idle long enough; true if one was.
    /// A scan of every connection, done only at the cap (a flood there costs a few µs per 1,000
    /// connections per accept); the closed one leaves the registry in its close callback.
    private func closeLongestIdleConnection() -> Bool {
        let idleBeforeMs = loop.nowMs &- Limits.idleConnectionEvictionMsMin
        var oldest: HTTPConnection? = nil
        var oldestMs = UInt64.max
        for connection in connections {
            guard let since = connection.idleSinceMs, since <= idleBeforeMs, since < oldestMs else { continue }
            oldest = connection
            oldestMs = since
        }
        oldest?.close()
        return oldest != nil
    }

    /// Answers 503 with `reason` and closes, or closes at once past `Limits.rejectedConnectionsMax`.
    private func reject(_ connection: HTTPConnection, from peer: PeerAddress?, _ reason: String) {
        Log.failure(&refusals, nowMs: loop.nowMs, level: .warning,
                    first: "connection from \(peer.map { "\($0)" } ?? "a closed socket") refused with 503: \(reason) (--max-connections \(limits.connectionsMax), "
                        + "--max-connections-per-address \(limits.connectionsPerAddressMax))",
                    summary: { "\($0) more connections refused with 503 in \($1) s" })
        guard rejecting < Limits.rejectedConnectionsMax else {
            connection.close()
            return
        }
        rejecting += 1
        register(connection)
        connection.reject(reason)
    }

    private func register(_ connection: HTTPConnection) {
        connection.registryIndex = connections.count
        connections.append(connection)
    }

    func connectionDidClose(_ connection: HTTPConnection) {
        let index = connection.registryIndex
        guard index >= 0, index < connections.count, connections[index] === connection else { return }
        if connection.rejectAsOverloaded { rejecting -= 1 }
        if let peer = connection.peer { forget(peer) }
        closedSinceTrim += 1
        let last = connections.removeLast()
        if index < connections.count {
            connections[index] = last
            last.registryIndex = index
        }
        connection.registryIndex = -1
        finishStopWhenIdle()
    }

    private func forget(_ peer: PeerAddress) {
        guard let held = connectionsPerAddress[peer] else { return }
        connectionsPerAddress[peer] = held > 1 ? held - 1 : nil
    }

    private func tick() {
        refreshDate()
        let now = loop.nowMs
        trimHeapAfterClosedConnections(nowMs: now)
        guard timeoutJudge.mayJudge(nowMs: now) else { return }
        var index = 0
        while index < connections.count {
            let connection = connections[index]
            connection.checkTimeouts(nowMs: now, limits: limits)
            // A connection that closed during the check was swapped out of this slot.
            if index < connections.count && connections[index] === connection { index += 1 }
        }
    }

    /// Gives freed heap memory back once many connections closed (their buffers are freed, but
    /// glibc keeps the memory in its arenas for reuse unless asked).
    private func trimHeapAfterClosedConnections(nowMs: UInt64) {
        guard closedSinceTrim >= Limits.closedConnectionsPerMemoryTrim, nowMs - lastTrimMs >= Limits.memoryTrimIntervalMs else { return }
        closedSinceTrim = 0
        lastTrimMs = nowMs
        HeapMemory.giveBackFreed()
    }

    private func refreshDate() {
        let second = WallClock.nowMs() / 1000
        guard second != dateSecond else { return }
        dateSecond = second
        date = HTTPDate.format(unixSeconds: second)
    }

    /// Stops accepting (here and on the admin listener); closes idle connections now and busy
    /// ones after their answer; calls `completion` once every connection of both is closed.
    /// Runs `body`, which gives many deferred answers at once (the node's durable batch): each
    /// connection then writes its answers in one system call after `body`, not one per answer
    /// (the proxy keeps a few connections to a node and a batch answers many requests on each).
    package func answeringTogether(_ body: () -> Void) {
        gatheringDepth += 1
        body()
        gatheringDepth -= 1
        guard gatheringDepth == 0 else { return }
        while let connection = gathered.popLast() { connection.serveGathered() }
    }

    /// Holds `connection`'s answers for one write if a batch is being answered; false otherwise.
    func gather(_ connection: HTTPConnection) -> Bool {
        guard gatheringDepth > 0 else { return false }
        if !connection.isGathered {
            connection.isGathered = true
            gathered.append(connection)
        }
        return true
    }

    /// Serves `connection` again next turn, after the other connections had theirs.
    func serveNextTurn(_ connection: HTTPConnection) {
        waitingForTurn.append(connection)
        if nextTurn == nil { nextTurn = NextTurnWork(loop: loop) { [unowned self] in self.serveWaitingConnections() } }
        nextTurn?.start()
    }

    private func serveWaitingConnections() {
        let waiting = waitingForTurn
        waitingForTurn.removeAll(keepingCapacity: true)
        for connection in waiting where !connection.isClosed { connection.takeTurn() }
        // No connection asked for another turn: the loop may block in its poll again.
        if waitingForTurn.isEmpty { nextTurn?.stop() }
    }

    package func stop(completion: @escaping () -> Void) {
        guard !isStopping else { return }
        isStopping = true
        onStopped = completion
        listener?.close()
        listener = nil
        for connection in connections { connection.closeWhenIdle() }
        admin?.stop { [unowned self] in
            self.admin = nil
            self.finishStopWhenIdle()
        }
        finishStopWhenIdle()
    }

    /// Closes every connection now, the admin listener's too (the shutdown deadline passed).
    package func closeAll() {
        for connection in connections { connection.close() }
        admin?.closeAll()
    }

    private func finishStopWhenIdle() {
        guard isStopping, !isStopped, connections.isEmpty, admin == nil else { return }
        isStopped = true
        nextTurn?.close()
        nextTurn = nil
        if let housekeeping { cron.cancel(housekeeping) }
        housekeeping = nil
        if ownsCron { cron.close() }
        let completion = onStopped
        onStopped = nil
        completion?()
    }
}
