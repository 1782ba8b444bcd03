// An HTTP/1.1 server on the loop: accepts connections, keeps the registry the cron walks, the
// cached Date header, and a graceful stop.
//
// One housekeeping duty on the process's cron (`Limits.serverHousekeepingIntervalMs`, as
// Redis's serverCron) replaces a timer per connection: it refreshes the Date bytes when the second changes and checks every
// connection's header, idle and linger time-outs. Beyond `connectionsMax` a new connection is
// answered 503 and closed; at most `Limits.rejectedConnectionsMax` such answers are in flight, past that a new
// connection is closed at once, so a flood cannot grow memory without bound. When accept
// itself fails (out of file descriptors: EMFILE, ENFILE; or memory) the listener pauses and
// retries (`Limits.acceptRetryDelayMs`); the failures are logged rate-limited
// (`RepeatedFailureReport`), and one line says when accepting works again.

import LinkRingCore
import LinkRingUV

package final class HTTPServer {
    let loop: EventLoop
    let handler: HTTPRequestHandler
    package let limits: ServerLimits
    private var listener: TCPListener?
    private var connections: [HTTPConnection] = []
    private var rejecting = 0
    private let cron: Cron
    /// True when the server made its own cron (no process cron given): it closes it on stop.
    private let ownsCron: Bool
    private var housekeeping: CronDuty?
    private var dateSecond: Int64 = -1
    private var onStopped: (() -> Void)?
    private var acceptFailures = RepeatedFailureReport()

    /// The current `Date` header value (29 bytes), refreshed by the cron.
    package private(set) var date: [UInt8] = []
    /// Set once `stop` was called: answers carry `Connection: close`.
    package private(set) var isStopping = false
    var connectionCount: Int { connections.count }
    /// Set to log every request (--access-log).
    package var accessLog: AccessLog?

    /// `cron` is the process's one periodic tick; a server alone (a test) passes none and
    /// runs its own, closed when the server has stopped.
    package init(loop: EventLoop, limits: ServerLimits, handler: HTTPRequestHandler, cron: Cron? = nil) {
        self.loop = loop
        self.limits = limits
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
        if isStopping || connections.count - rejecting >= limits.connectionsMax {
            guard rejecting < Limits.rejectedConnectionsMax else {
                stream.delegate = nil
                stream.close()
                return
            }
            rejecting += 1
            register(connection)
            connection.rejectOverloaded()
            return
        }
        register(connection)
        connection.start()
    }

    private func register(_ connection: HTTPConnection) {
        connection.registryIndex = connections.count
        connections.append(connection)
    }

    func connectionDidClose(_ connection: HTTPConnection) {
        let index = connection.registryIndex
        guard index >= 0, index < connections.count, connections[index] === connection else { return }
        if connection.rejectAsOverloaded { rejecting -= 1 }
        let last = connections.removeLast()
        if index < connections.count {
            connections[index] = last
            last.registryIndex = index
        }
        connection.registryIndex = -1
        if isStopping && connections.isEmpty { finishStop() }
    }

    private func tick() {
        refreshDate()
        let now = loop.nowMs
        var index = 0
        while index < connections.count {
            let connection = connections[index]
            connection.checkTimeouts(nowMs: now, limits: limits)
            // A connection that closed during the check was swapped out of this slot.
            if index < connections.count && connections[index] === connection { index += 1 }
        }
    }

    private func refreshDate() {
        let second = WallClock.nowMs() / 1000
        guard second != dateSecond else { return }
        dateSecond = second
        date = HTTPDate.format(unixSeconds: second)
    }

    /// Stops accepting; closes idle connections now and busy ones after their answer; calls
    /// `completion` once every connection is closed.
    package func stop(completion: @escaping () -> Void) {
        guard !isStopping else { return }
        isStopping = true
        onStopped = completion
        listener?.close()
        listener = nil
        for connection in connections { connection.closeWhenIdle() }
        if connections.isEmpty { finishStop() }
    }

    /// Closes every connection now (the shutdown deadline passed).
    package func closeAll() {
        for connection in connections { connection.close() }
    }

    private func finishStop() {
        if let housekeeping { cron.cancel(housekeeping) }
        housekeeping = nil
        if ownsCron { cron.close() }
        let completion = onStopped
        onStopped = nil
        completion?()
    }
}
