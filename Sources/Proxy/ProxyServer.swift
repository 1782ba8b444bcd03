// The proxy as one object that owns, downward, everything the process runs. Nothing below it
// refers back up: where two parts need the same thing, this type owns it and hands it to both.
//
//   ProxyServer
//    ├─ Cron          the one periodic tick: server housekeeping, pings, node deadlines, status
//    │                table, access-log flush (closed last at shutdown)
//    ├─ HTTPServer ─handler─▶ ProxyService (router) ─/_/ paths─▶ OperatorRoutes
//    │   └─ admin HTTPServer (--admin-listen) ─handler─▶ OperatorRoutes
//    ├─ ProxyCluster  placement (rings of the memberships) + NodeClients: read by the router
//    │                and the operator routes, replaced by HostsReloader (SIGHUP, a newer
//    │                generation met, a move finished)
//    ├─ ProxyMetrics  counted by the router, rendered by the operator routes
//    ├─ ProxyClock    versions on the nodes' time: fed by the sentinel, read by the router and
//    │                the operator routes; writes wait for its first reading (a cron duty
//    │                answers those past their deadline)
//    ├─ Sentinel      pings and deadlines of the NodeClients, logs their states
//    ├─ HostsReloader re-reads the hosts file into the cluster and tells the sentinel
//    ├─ NameResolver  the hosts file's names, looked up off the loop, handed to every node
//    │                connection; its answers make the sentinel check aliases again
//    ├─ OutputFlusher one write per node connection per loop iteration
//    └─ LogFiles, GracefulShutdown
//
// The router and the operator routes never reach the HTTPServer: the client connection count
// comes with each request (`HTTPConnection.publicConnectionCount`), the listen address is
// handed over once the server is bound. Closures that call back into this object (SIGHUP,
// shutdown) hold it unowned: it lives until the loop has closed (ProxyProcess).

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class ProxyServer {
    private let loop: EventLoop
    private let options: ProxyOptions
    private let origin: UInt64
    private let flusher: OutputFlusher
    private let cron: Cron
    private let cluster: ProxyCluster
    private let metrics = ProxyMetrics()
    private let clock: ProxyClock
    private let operatorRoutes: OperatorRoutes
    private let router: ProxyService
    private let http: HTTPServer
    private let sentinel: Sentinel
    private let hostsReloader: HostsReloader
    private var heldWrites: CronDuty?
    private let resolver: NameResolver
    /// Name lookups still in a resolver thread when the proxy stopped (the process then exits
    /// without waiting for them: ProxyProcess).
    private(set) var lookupsLeftRunning = 0
    private var logFiles: LogFiles?
    private var shutdown: GracefulShutdown?

    init(loop: EventLoop, options: ProxyOptions, origin: UInt64) {
        self.loop = loop
        self.options = options
        self.origin = origin
        flusher = OutputFlusher(loop: loop)
        cron = Cron(loop: loop)
        resolver = NameResolver(loop: loop)
        let nodes = HostsReloader.clients(for: options.hostsEntries, reusing: [], loop: loop, options: options, flusher: flusher,
                                          resolver: resolver)
        cluster = ProxyCluster(placement: Placement(MovingMemberships(current: options.membership), vnodesPerNode: options.vnodes,
                                                    replicas: options.replicas),
                               nodes: nodes, clusterToken: options.clusterToken)
        clock = ProxyClock(origin: origin, skew: options.skew)
        operatorRoutes = OperatorRoutes(cluster: cluster, metrics: metrics, loop: loop, clock: clock)
        router = ProxyService(cluster: cluster, metrics: metrics, operatorRoutes: operatorRoutes, options: options, clock: clock)
        http = HTTPServer(loop: loop, limits: options.limits, handler: router, cron: cron)
        sentinel = Sentinel(loop: loop, cron: cron, nodes: nodes, options: options, clock: clock, resolver: resolver)
        hostsReloader = HostsReloader(loop: loop, options: options, flusher: flusher, cluster: cluster, sentinel: sentinel,
                                      resolver: resolver)
    }

    /// Before listening: the hosts file's names are looked up (a bounded wait) and two lines
    /// naming one node refuse the start (HostsStartupCheck).
    func checkHostsNames() throws {
        try HostsStartupCheck.run(options.hostsEntries, source: options.hostsPath, loop: loop, resolver: resolver)
    }

    /// Listens (and on the admin address), starts pinging the nodes, opens the log files and
    /// watches the stop signals. Returns the bound addresses.
    func start() throws -> (address: String, admin: String?) {
        let bound = try http.start(host: options.listen.host, port: options.listen.port)
        let address = HostPort(host: bound.host, port: bound.port).description
        let admin = try http.serveOperatorRoutes(options.admin, adminHandler: operatorRoutes)?.description
        operatorRoutes.listenAddress = address
        clock.onLearned = { [unowned self] in self.router.releaseWritesAwaitingClock() }
        heldWrites = cron.every(Limits.nodeDeadlineCheckIntervalMs, "writes awaiting the nodes' time or a re-read hosts file") {
            [unowned self] in
            self.router.expireWritesAwaitingClock(nowMs: MonotonicClock.nowMs())
            self.router.membershipHolds.expire(nowMs: MonotonicClock.nowMs())
        }
        hostsReloader.onReread = { [unowned self] in self.router.membershipHolds.reread() }
        resolver.start(cron: cron)
        resolver.onAnswer = { [unowned self] in self.sentinel.checkAliases() }
        sentinel.onNodeReport = { [unowned self] node, report in self.hostsReloader.nodeReported(node, report) }
        sentinel.onNewerGeneration = { [unowned self] in self.hostsReloader.sawNewerGeneration(nil) }
        sentinel.start()
        logFiles = try LogFiles(loop: loop, options: options.logging, cron: cron) { [unowned self] in self.hostsReloader.reload() }
        http.accessLog = logFiles?.accessLog
        let shutdown = GracefulShutdown(loop: loop, server: http, deadlineMs: Limits.proxyShutdownDeadlineMs) { [unowned self] done in
            self.closeAfterClients()
            done()
        }
        try shutdown.watchSignals()
        self.shutdown = shutdown
        Log.info("proxy \(address): \(cluster.nodes.count) nodes from \(options.hostsPath), \(options.replicas) replicas, "
                 + "\(options.vnodes) vnodes per node, \(cluster.ring.rangeCount) key ranges, membership generation \(cluster.generation), "
                 + "version origin \(origin)"
                 + (options.proxyID == nil ? " (random; --proxy-id sets one)" : ""))
        Log.info("/_/status and /_/metrics: " + options.admin.describe(adminAddress: admin))
        return (address, admin)
    }

    /// Once every client connection has closed: the node pools, log files and the cron close,
    /// and the loop has nothing left to run.
    private func closeAfterClients() {
        sentinel.close()
        let lookupsRunning = resolver.close()
        lookupsLeftRunning = lookupsRunning
        for node in cluster.nodes { node.closeAll() }
        flusher.close()
        logFiles?.close()
        cron.close()
        if lookupsRunning > 0 {
            // Nothing waits for their answers: the loop would, for as long as the resolver is silent.
            Log.info("not waiting for \(lookupsRunning) name lookup(s) still in the resolver")
            loop.stop()
        }
    }
}
