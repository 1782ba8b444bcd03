// The sentinel: watches every node on duties of the proxy's cron and tells the operator.
//
//   ping (every --ping-interval-ms, first at once) ─▶ each node: GET /_/health with a deadline
//   node deadlines (Limits.nodeDeadlineCheckIntervalMs) ─▶ fail node requests past their deadlines;
//                                         a node silent for --silence-to-down-ms while requests
//                                         waited is down at once
//   late requests (Limits.lateCheckIntervalMs) ─▶ the node is suspect; reads hedge, writes
//                                         stop waiting for it (SlowNodeRules.swift)
//   status (every --status-interval-s, 0 = off) ─▶ log the table of node states
//   any state or readiness change         ─▶ log a line and the table
//   every answered ping                   ─▶ the proxy's clock learns the node's (ProxyClock)
//   a node down longer than --restart-after-ms ─▶ Restarter runs --restart-command
//   aliases (each ping round, and whenever a name answers): two lines of the hosts file that
//     connect to one address, or whose nodes report one node id (HostsAliases.swift) ─▶ the
//     later line is refused (taken as down for good) with an ERROR naming both lines
//
// The original printed node statuses to the console; this prints the same table to the log.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class Sentinel {
    private let loop: EventLoop
    private let cron: Cron
    private var nodes: [NodeClient]
    private let options: ProxyOptions
    private let resolver: NameResolver
    private var duties: [CronDuty] = []
    private let restarter: Restarter?
    private let clock: ProxyClock
    /// Logs the table once after a burst of changes (all nodes answering their first ping): a
    /// one-shot deferral to the next loop iteration, not a periodic duty, so a timer of its own.
    private var tableTimer: Timer?
    private var isTablePending = false
    private var isClosed = false
    /// Told of every answered ping after the clock (HostsReloader: generations, moves).
    var onNodeReport: ((NodeClient, NodeReport) -> Void)?
    /// Told when a node answers 421 (it serves a newer membership generation).
    var onNewerGeneration: (() -> Void)?

    init(loop: EventLoop, cron: Cron, nodes: [NodeClient], options: ProxyOptions, clock: ProxyClock, resolver: NameResolver) {
        self.loop = loop
        self.clock = clock
        self.cron = cron
        self.nodes = nodes
        self.options = options
        self.resolver = resolver
        restarter = options.restartCommand.map {
            Restarter(loop: loop, command: $0, restartAfterMs: options.restartAfterMs, timeoutMs: options.restartTimeoutMs)
        }
        adopt(nodes)
    }

    /// Watches `nodes` from now on (after a reload of the hosts file).
    func adopt(_ nodes: [NodeClient]) {
        self.nodes = nodes
        for node in nodes {
            node.onHealthChange = { [unowned self] node in self.healthChanged(node) }
            node.onReport = { [unowned self] node, report in
                self.clock.nodeAnswered(node, report, among: self.nodes)
                self.onNodeReport?(node, report)
            }
            node.onNewerGeneration = { [unowned self] in self.onNewerGeneration?() }
        }
    }

    func start() {
        let ping = cron.every(options.pingIntervalMs, "ping nodes", firstAfterMs: 0) {
            self.checkAliases()
            for node in self.nodes { node.ping() }
            self.restarter?.check(self.nodes)
        }
        let housekeeping = cron.every(Limits.nodeDeadlineCheckIntervalMs, "node deadlines") {
            let now = self.loop.nowMs
            for node in self.nodes { node.checkDeadlines(nowMs: now) }
        }
        let late = cron.every(Limits.lateCheckIntervalMs, "late node requests") {
            let now = self.loop.nowMs
            for node in self.nodes { node.findLate(nowMs: now) }
        }
        duties = [ping, housekeeping, late]
        if options.statusIntervalS > 0 {
            let periodMs = UInt64(options.statusIntervalS) * 1000
            duties.append(cron.every(periodMs, "status table") { self.logTable() })
        }
    }

    /// Refuses each entry that names a node an earlier line names (by connect address, then by
    /// the node id its pings report), with an ERROR naming both lines.
    func checkAliases() {
        let entries = nodes.map { HostsEntry(address: $0.address, line: $0.line) }
        let byAddress = HostsAliases.byAddress(nodes.map { resolver.knownAddress(of: $0.address) })
        let byID = HostsAliases.byNodeID(nodes.map { $0.health.state == .refused ? nil : $0.nodeID })
        for alias in byAddress + byID where nodes[alias.later].health.state != .refused {
            let message = HostsAliases.message(alias, entries: entries, source: options.hostsPath)
            Log.error(message + ": line \(entries[alias.later].line) is refused (down) until the file lists each node once "
                      + "and is reloaded (SIGHUP); keys placed on both lines have one copy fewer meanwhile")
            nodes[alias.later].refuse(message)
        }
    }

    func close() {
        isClosed = true
        restarter?.close()
        for duty in duties { cron.cancel(duty) }
        duties.removeAll()
        tableTimer?.close()
        tableTimer = nil
    }

    private func healthChanged(_ node: NodeClient) {
        let health = node.health
        let level: Log.Level = health.isUsable ? .info : .warning
        Log.write(level, "node \(node.address) is \(health.state.rawValue) (\(health.readiness.rawValue))")
        guard !isTablePending, !isClosed else { return }
        isTablePending = true
        let timer = tableTimer ?? Timer(loop: loop)
        tableTimer = timer
        timer.start(afterMs: 0) { [unowned self] in
            self.isTablePending = false
            self.logTable()
        }
    }

    func logTable() {
        Log.info("node states\n" + Self.table(nodes, nowMs: loop.nowMs))
    }

    static func table(_ nodes: [NodeClient], nowMs: UInt64) -> String {
        var lines = [pad("node", 24) + pad("state", 9) + pad("readiness", 12) + pad("last ping", 11) + pad("rtt", 7)
                     + pad("misses", 8) + pad("conns", 7) + "queued"]
        for node in nodes {
            let health = node.health
            let ping = health.lastPingMs.map { "\(nowMs - min($0, nowMs))ms ago" } ?? "never"
            let roundTrip = health.lastRoundTripMs.map { "\($0)ms" } ?? "-"
            lines.append(pad(node.address.description, 24) + pad(health.state.rawValue, 9) + pad(health.readiness.rawValue, 12)
                         + pad(ping, 11) + pad(roundTrip, 7) + pad("\(health.consecutiveFailures)", 8)
                         + pad("\(node.openConnections)", 7) + "\(node.queuedRequests)")
        }
        return lines.joined(separator: "\n")
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
