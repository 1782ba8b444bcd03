// Counters of the proxy's traffic, rendered as Prometheus text on /_/metrics. Counting costs a
// few increments per request; only rendering builds strings.

import LinkRingCore
import LinkRingUV

final class ProxyMetrics {
    /// Requests by method and status: index = method row * 1000 + status (a flat array, so
    /// counting is an increment, not a hash lookup).
    private var requests = [UInt64](repeating: 0, count: 5 * 1000)
    private var latency = LatencyHistogram()
    var failovers: UInt64 = 0
    var retries: UInt64 = 0
    var partialWrites: UInt64 = 0
    var versionConflicts: UInt64 = 0
    var skewRefusals: UInt64 = 0
    var hedges: UInt64 = 0
    var hedgesRefused: UInt64 = 0
    var heldForMembership: UInt64 = 0
    var writesWithoutLateReplicas: UInt64 = 0
    var behindAnswers: UInt64 = 0
    var movingReadsAtKeeper: UInt64 = 0
    var movingReadsEverywhere: UInt64 = 0
    private(set) var total: UInt64 = 0

    /// Rows of `requests`: the methods of the API, then every other method.
    private static let rowNames = ["GET", "HEAD", "PUT", "DELETE", "other"]

    private static func row(_ method: HTTPMethod) -> Int {
        switch method {
        case .get: 0
        case .head: 1
        case .put: 2
        case .delete: 3
        default: 4
        }
    }

    func finish(_ timer: RequestTimer, status: Int) {
        requests[Self.row(timer.method) * 1000 + min(max(status, 0), 999)] += 1
        latency.record(microseconds: (MonotonicClock.nowNs() &- timer.startedNs) / 1000)
        total += 1
    }

    func render(nodes: [NodeClient], clientConnections: Int, clock: ProxyClock, placement: Placement) -> String {
        var text = "# HELP linkring_proxy_requests_total Client requests by method and status.\n"
        text += "# TYPE linkring_proxy_requests_total counter\n"
        for (key, count) in requests.enumerated() where count > 0 {
            text += "linkring_proxy_requests_total{method=\"\(Self.rowNames[key / 1000])\",status=\"\(key % 1000)\"} \(count)\n"
        }
        latency.render(name: "linkring_proxy_request_duration_seconds", into: &text)
        counter(&text, "linkring_proxy_failovers_total", "Reads sent on to a further replica.", failovers)
        counter(&text, "linkring_proxy_retries_total", "Node answers that failed and were retried elsewhere.", retries)
        counter(&text, "linkring_proxy_partial_writes_total", "Writes acknowledged by some but not all contacted replicas.", partialWrites)
        counter(&text, "linkring_proxy_version_conflicts_total", "Write attempts re-minted because a replica held a newer version.", versionConflicts)
        counter(&text, "linkring_proxy_hedged_reads_total", "Reads also sent to the next replica because the first was late.", hedges)
        counter(&text, "linkring_proxy_hedges_refused_total", "Hedges not sent: the hedge budget (one read in ten) was spent.", hedgesRefused)
        counter(&text, "linkring_proxy_held_for_membership_total",
                "Requests every replica refused with 421 (a newer membership), held until the hosts file was re-read.", heldForMembership)
        counter(&text, "linkring_proxy_writes_without_late_replicas_total",
                "Writes answered once acknowledged, without waiting for a late replica (repair copies it).", writesWithoutLateReplicas)
        counter(&text, "linkring_proxy_behind_answers_total",
                "Replica answers older than a write this proxy acknowledged while that replica missed it (asked elsewhere).", behindAnswers)
        counter(&text, "linkring_proxy_moving_reads_at_keeper_total",
                "Reads of a moving key answered by a replica of every membership alone.", movingReadsAtKeeper)
        counter(&text, "linkring_proxy_moving_reads_everywhere_total",
                "Reads of a moving key that asked every replica of every membership.", movingReadsEverywhere)
        counter(&text, "linkring_proxy_clock_skew_refusals_total", "Versions refused for clock skew: node answers 422, or 409 versions too far ahead of this proxy's clock.", skewRefusals)
        text += "# HELP linkring_proxy_client_connections Open client connections.\n# TYPE linkring_proxy_client_connections gauge\n"
        text += "linkring_proxy_client_connections \(clientConnections)\n"
        text += "# HELP linkring_proxy_clock_offset_seconds Cluster time (the nodes' clocks, which versions follow) minus this host's clock.\n"
        text += "# TYPE linkring_proxy_clock_offset_seconds gauge\n"
        text += "linkring_proxy_clock_offset_seconds \(PrometheusText.seconds(milliseconds: clock.ownOffsetMs ?? 0))\n"
        text += "# HELP linkring_proxy_membership_generation The hosts file generation this proxy routes by.\n"
        text += "# TYPE linkring_proxy_membership_generation gauge\nlinkring_proxy_membership_generation \(placement.generation)\n"
        text += "# HELP linkring_proxy_membership_moving 1 while data moves: writes to every membership's replicas, reads from all.\n"
        text += "# TYPE linkring_proxy_membership_moving gauge\nlinkring_proxy_membership_moving \(placement.isMoving ? 1 : 0)\n"
        renderNodes(nodes, into: &text)
        return text
    }

    private func counter(_ text: inout String, _ name: String, _ help: String, _ value: UInt64) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name) \(value)\n"
    }

    private func renderNodes(_ nodes: [NodeClient], into text: inout String) {
        let families: [(String, String, String, (NodeClient) -> String)] = [
            ("linkring_node_up", "gauge", "1 while the node is not down.", { $0.health.isUsable ? "1" : "0" }),
            ("linkring_node_ready", "gauge", "1 while the node is up and ready for reads.", { $0.health.isReady ? "1" : "0" }),
            ("linkring_node_ping_round_trip_seconds", "gauge", "Round trip of the last answered ping.",
             { PrometheusText.seconds(microseconds: ($0.health.lastRoundTripMs ?? 0) * 1000) }),
            ("linkring_node_clock_offset_seconds", "gauge", "The node's clock minus this proxy's host clock, at the last answered ping.",
             { PrometheusText.seconds(milliseconds: $0.clockSample?.offsetMs ?? 0) }),
            ("linkring_node_suspect", "gauge", "1 while a request to the node is late and it has not answered since.",
             { $0.health.isSuspect ? "1" : "0" }),
            ("linkring_node_late_after_seconds", "gauge", "Age at which a request to the node is late (twice its p99, bounded).",
             { PrometheusText.seconds(microseconds: $0.latency.lateAfterMs * 1000) }),
            ("linkring_node_late_requests_total", "counter", "Requests to the node found late.", { "\($0.lateRequests)" }),
            ("linkring_node_silent_downs_total", "counter", "Times the node was marked down for silence while requests waited.",
             { "\($0.silentDowns)" }),
            ("linkring_node_pool_connections", "gauge", "Open pooled connections to the node.", { "\($0.openConnections)" }),
            ("linkring_node_queued_requests", "gauge", "Requests waiting for a pooled connection.", { "\($0.queuedRequests)" }),
            ("linkring_node_requests_total", "counter", "Requests sent to the node.", { "\($0.requestsSent)" }),
            ("linkring_node_request_failures_total", "counter", "Node requests that failed.", { "\($0.requestsFailed)" }),
            ("linkring_node_queue_full_total", "counter", "Requests refused because the node's queue was full.", { "\($0.refusedQueueFull)" }),
            ("linkring_node_membership_generation", "gauge", "The membership generation the node reported serving.",
             { "\($0.lastReport?.generation ?? 0)" }),
            ("linkring_node_handoff_records_sent_total", "counter", "Records the node handed to new replicas since its last change.",
             { "\($0.lastReport?.handoff?.sentRecords ?? 0)" }),
            ("linkring_node_handoff_bytes_sent_total", "counter", "Bytes the node handed to new replicas since its last change.",
             { "\($0.lastReport?.handoff?.sentBytes ?? 0)" }),
            ("linkring_node_handoff_keys_left", "gauge", "Keys the node has still to look at or send in its handoff.",
             { "\($0.lastReport?.handoff.map { $0.keys - min($0.keys, $0.scanned) + $0.waiting } ?? 0)" }),
        ]
        for (name, type, help, value) in families {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for node in nodes { text += "\(name){node=\"\(PrometheusText.label(node.address.description))\"} \(value(node))\n" }
        }
    }
}
