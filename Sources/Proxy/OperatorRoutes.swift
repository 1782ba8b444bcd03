// The proxy's own routes: /_/health, /_/status (?key=S), /_/metrics, the dashboard /_/ (a page
// that reads the last two, DashboardPage.swift) and the pages' stylesheet /_/style.css. A
// client path under /_/ is answered here and never forwarded to a node.
//
// Who may read them (OperatorAccess.swift, docs/DECISIONS.md): /_/health, which load balancers
// poll and which names no node, answers everyone, as does /_/style.css. Every other /_/ path, the unknown ones too,
// first passes the connection's operator check: /_/status names every node's internal address
// and which nodes hold a key, /_/metrics the same addresses. On the public port that check
// lets through connections from this host (the default), nobody (with --admin-listen) or
// everyone (--admin-on-public); the admin listener, whose handler this is too (`handle`),
// answers everyone who reaches it, and nothing but these routes.
//
// Health is about keys, not nodes: 200 while every key range has at least one replica known
// to be up (answered a ping), else 503. A node not pinged yet does not count, so a proxy in
// front of a cluster that is not there yet is not healthy.
//
// ProxyServer owns these routes and hands them what they report on: the cluster (ring and
// node clients) and the metrics. The number of client connections comes with each request,
// from the connection's own server: nothing here refers back to the server or the router.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class OperatorRoutes {
    private let cluster: ProxyCluster
    private let metrics: ProxyMetrics
    private let loop: EventLoop
    private let clock: ProxyClock
    /// The address the proxy listens on, for /_/status: set by ProxyServer once it is bound,
    /// before any request can arrive.
    var listenAddress = ""
    /// The dashboard, built once.
    private let dashboard = DashboardPage.make()

    init(cluster: ProxyCluster, metrics: ProxyMetrics, loop: EventLoop, clock: ProxyClock) {
        self.cluster = cluster
        self.metrics = metrics
        self.loop = loop
        self.clock = clock
    }

    /// Answers and returns the status it answered with.
    func answer(_ head: HTTPRequestHead, _ buffer: [UInt8], path: Range<Int>, query: Range<Int>?, on connection: HTTPConnection) -> Int {
        let name = String(decoding: buffer[path], as: UTF8.self)
        if name != "health" && name != "style.css", let refusal = connection.operatorRefusal(head) {
            connection.respondFailure(refusal)
            return refusal.status.rawValue
        }
        guard ["health", "status", "metrics", "", "style.css"].contains(name) else {
            connection.respondFailure(HTTPParseFailure(.notFound, "The proxy has /_/ (the dashboard), /_/health, /_/status and /_/metrics."))
            return 404
        }
        guard head.method == .get || head.method == .head else {
            connection.respondMethodNotAllowed(allow: "GET, HEAD")
            return 405
        }
        switch name {
        case "health":
            let healthy = uncoveredRanges() == 0
            connection.respond(healthy ? .ok : .serviceUnavailable, contentType: ContentType.json, body: Array(healthJSON().utf8))
            return healthy ? 200 : 503
        case "status":
            return status(buffer, query: query, on: connection)
        case "":
            connection.respond(.ok, body: dashboard)
            return 200
        case "style.css":
            connection.respondStylesheet()
            return 200
        default:
            let text = metrics.render(nodes: cluster.nodes, clientConnections: connection.publicConnectionCount, clock: clock,
                                      placement: cluster.placement)
            connection.respond(.ok, contentType: ContentType.prometheus, body: Array(text.utf8))
            return 200
        }
    }

    /// Key ranges none of whose replicas is usable.
    func uncoveredRanges() -> Int {
        var uncovered = 0
        for range in 0..<cluster.ring.rangeCount where !cluster.ring.replicas(ofRange: range).contains(where: { cluster.nodes[$0].health.state == .up }) {
            uncovered += 1
        }
        return uncovered
    }

    private func healthJSON() -> String {
        let usable = cluster.nodes.filter { $0.health.state == .up }.count
        let uncovered = uncoveredRanges()
        return "{\"state\":\(JSONText.string(uncovered == 0 ? "ok" : "degraded")),\"nodesUp\":\(usable),"
            + "\"nodes\":\(cluster.nodes.count),\"rangesWithoutReplica\":\(uncovered)}\n"
    }

    private func status(_ buffer: [UInt8], query: Range<Int>?, on connection: HTTPConnection) -> Int {
        var keyPart = ""
        if let query {
            switch ShortLongQuery.parseName(buffer, query, parameter: "key") {
            case .success(let key):
                let holders = cluster.placement.writeReplicas(forKey: key).map { JSONText.string(cluster.nodes[$0].address.description) }
                keyPart = ",\"key\":\(JSONText.string(String(decoding: key, as: UTF8.self))),\"replicas\":[\(holders.joined(separator: ","))]"
            case .failure(let failure):
                connection.respondFailure(failure)
                return failure.status.rawValue
            }
        }
        connection.respond(.ok, contentType: ContentType.json, body: Array((statusJSON() + keyPart + "}\n").utf8))
        return 200
    }

    /// The status document without its closing brace.
    private func statusJSON() -> String {
        let now = loop.nowMs
        let ring = cluster.ring
        var primaryRanges = [Int](repeating: 0, count: cluster.nodes.count)
        for range in 0..<ring.rangeCount { primaryRanges[ring.replicas(ofRange: range).first!] += 1 }
        let nodes = cluster.nodes.map { node -> String in
            let health = node.health
            let pingAgo = health.lastPingMs.map { "\(now - $0)" } ?? "null"
            let roundTrip = health.lastRoundTripMs.map { "\($0)" } ?? "null"
            let clockOffset = node.clockSample.map { "\($0.offsetMs)" } ?? "null"
            let generation = node.lastReport?.generation.map { "\($0)" } ?? "null"
            let handoff = node.lastReport?.handoff?.json ?? "null"
            return "{\"address\":\(JSONText.string(node.address.description)),\"state\":\"\(health.state.rawValue)\","
                + "\"readiness\":\"\(health.readiness.rawValue)\",\"lastPingMsAgo\":\(pingAgo),\"roundTripMs\":\(roundTrip),"
                + "\"clockOffsetMs\":\(clockOffset),\"failuresInARow\":\(health.consecutiveFailures),\"stateForMs\":\(now - min(health.sinceMs, now)),"
                + "\"connections\":\(node.openConnections),\"queued\":\(node.queuedRequests),"
                + "\"primaryRanges\":\(primaryRanges[node.index]),\"requests\":\(node.requestsSent),\"failures\":\(node.requestsFailed),"
                + "\"member\":\(node.index < ring.nodes.count),\"generation\":\(generation),\"handingOff\":\(node.lastReport?.isMoving ?? false),"
                + "\"handoff\":\(handoff)}"
        }
        return "{\"proxy\":\(JSONText.string(listenAddress)),\"healthy\":\(uncoveredRanges() == 0),"
            + "\"ring\":{\"nodes\":\(ring.nodes.count),\"vnodesPerNode\":\(ring.vnodesPerNode),\"replicas\":\(ring.replicaCount),"
            + "\"ranges\":\(ring.rangeCount),\"probesPerKey\":\(HashRing.probesPerKey)},"
            + "\"membership\":{\"generation\":\(cluster.generation),\"moving\":\(cluster.placement.isMoving),"
            + "\"movingFrom\":[\(cluster.placement.memberships.previous.map { "\($0.generation)" }.joined(separator: ","))],"
            + "\"nodesHandingOff\":\(cluster.nodes.filter { $0.lastReport?.isMoving == true }.count)},"
            + "\"clock\":{\"learned\":\(clock.isLearned),\"offsetMs\":\(clock.ownOffsetMs.map { "\($0)" } ?? "null"),"
            + "\"skewMsMax\":\(clock.skew.skewMsMax)},"
            + "\"requests\":\(metrics.total),\"failovers\":\(metrics.failovers),\"nodes\":[\(nodes.joined(separator: ","))]"
    }
}

/// The admin listener's handler: the operator routes above, and a 404 for anything else.
extension OperatorRoutes: HTTPRequestHandler {
    func handle(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, on connection: HTTPConnection) {
        let timer = RequestTimer(method: head.method, startedNs: MonotonicClock.nowNs())
        guard case .operatorRoute(let path, let query) = PublicRequest.interpret(head, buffer, rules: .standard) else {
            connection.respondFailure(Self.notOnAdminListener)
            return metrics.finish(timer, status: Self.notOnAdminListener.status.rawValue)
        }
        metrics.finish(timer, status: answer(head, buffer, path: path, query: query, on: connection))
    }

    private static let notOnAdminListener = HTTPParseFailure(.notFound,
        "This is the proxy's admin address: it serves /_/health, /_/status and /_/metrics. Clients use the public port.")
}
