// Relations between options, checked at start-up (ClusterLimits): a configuration that cannot
// work is refused by both executables' parsers with a message saying why, and the time-outs
// and periods that only look odd together — which the test harnesses and scripts pass — are
// accepted, because each still works.

import Testing
@testable import LinkRingCore

@Suite("Option relations")
struct OptionRelationsTests {
    private static let threeNodes = "127.0.0.1:7001\n127.0.0.1:7002\n127.0.0.1:7003\n"

    /// 64 nodes: enough that too many --vnodes breaks the answer limit within --vnodes' range.
    private static let sixtyFourNodes = (7001...7064).map { "127.0.0.1:\($0)\n" }.joined()

    private func proxy(_ extra: [String], hosts: String = threeNodes) throws -> ProxyOptions? {
        try ProxyOptions.parse(["--listen", "127.0.0.1:0", "--hosts", "hosts.txt"] + extra) { _ in hosts }
    }

    private func node(_ extra: [String], hosts: String = threeNodes) throws -> NodeOptions? {
        try NodeOptions.parse(["--listen", "127.0.0.1:7001", "--data", "d", "--hosts", "hosts.txt"] + extra) { _ in hosts }
    }

    private func refusal(_ parse: () throws -> Any?) -> String? {
        do {
            _ = try parse()
            return nil
        } catch {
            return (error as? CommandLineError)?.description ?? "\(error)"
        }
    }

    @Test("more replicas than nodes is refused by the proxy and the node, naming the hosts file")
    func replicasBeyondNodes() {
        let expected = "--replicas 4 is more than the 3 node(s) in hosts.txt"
        #expect(refusal { try proxy(["--replicas", "4"]) }?.contains(expected) == true)
        #expect(refusal { try node(["--replicas", "4"]) }?.contains(expected) == true)
        #expect(ClusterLimits.problem(nodes: 3, replicas: 3, vnodes: 64, source: "h") == nil)
    }

    @Test("a ring whose digests would not fit an answer is refused by both, naming the largest --vnodes")
    func ringTooLargeForAnAnswer() {
        let largest = Limits.answerBodyBytesMax / 8 / 64 - 1
        #expect(refusal { try proxy(["--vnodes", "\(largest + 1)"], hosts: Self.sixtyFourNodes) }?.contains("at most \(largest)") == true)
        #expect(refusal { try node(["--vnodes", "\(largest + 1)"], hosts: Self.sixtyFourNodes) }?.contains("at most \(largest)") == true)
        #expect(refusal { try proxy(["--vnodes", "\(largest)"], hosts: Self.sixtyFourNodes) } == nil)
    }

    @Test("a ping time-out longer than the ping period times --down-after only slows detection: accepted")
    func slowPingDetectionAccepted() throws {
        // The integration harness runs --ping-interval-ms 50 --down-after 2 with the default time-out.
        let options = try #require(try proxy(["--ping-interval-ms", "50", "--down-after", "2", "--ping-timeout-ms", "1000"]))
        #expect(options.pingTimeoutMs > options.pingIntervalMs * UInt64(options.failuresToDown))
    }

    @Test("a header time-out longer than the idle time-out is accepted (they time different states)")
    func headerBeyondIdleAccepted() throws {
        // NodeLimitTests runs --idle-timeout-ms 300 with the default header time-out.
        #expect(refusal { try node(["--idle-timeout-ms", "300"]) } == nil)
        #expect(refusal { try proxy(["--header-timeout-ms", "60000", "--idle-timeout-ms", "10"]) } == nil)
    }

    @Test("a peer time-out longer than the repair period is accepted (a long round delays the next)")
    func peerTimeoutBeyondSyncAccepted() throws {
        // The integration tests run --sync-interval-ms 100 with the default peer time-out.
        let options = try #require(try node(["--sync-interval-ms", "100"]))
        #expect(options.peerTimeoutMs > options.syncIntervalMs)
    }

    @Test("a restart delay below the ping period is accepted (it counts from when the node went down)")
    func restartBeforePingAccepted() throws {
        let options = try #require(try proxy(["--restart-after-ms", "0", "--ping-interval-ms", "3000"]))
        #expect(options.restartAfterMs < options.pingIntervalMs)
    }

    @Test("the defaults fit each other and every option's default lies in its range")
    func defaultsWithinRanges() {
        #expect(Limits.pingIntervalMsRange.contains(Int(Limits.pingIntervalMsDefault)))
        #expect(Limits.pingTimeoutMsRange.contains(Int(Limits.pingTimeoutMsDefault)))
        #expect(Limits.failuresToDownRange.contains(Limits.failuresToDownDefault))
        #expect(Limits.statusIntervalSRange.contains(Limits.statusIntervalSDefault))
        #expect(Limits.connectTimeoutMsRange.contains(Int(Limits.connectTimeoutMsDefault)))
        #expect(Limits.nodeTimeoutMsRange.contains(Int(Limits.nodeTimeoutMsDefault)))
        #expect(Limits.poolSizeRange.contains(Limits.poolSizeDefault))
        #expect(Limits.pipelineDepthRange.contains(Limits.pipelineDepthDefault))
        #expect(Limits.queueMaxRange.contains(Limits.queueMaxDefault))
        #expect(Limits.restartAfterMsRange.contains(Int(Limits.restartAfterMsDefault)))
        #expect(Limits.syncIntervalMsRange.contains(Int(Limits.syncIntervalMsDefault)))
        #expect(Limits.peerTimeoutMsRange.contains(Int(Limits.peerTimeoutMsDefault)))
        #expect(Limits.compactionLogBytesMinRange.contains(Limits.compactionLogBytesMinDefault))
        #expect(Limits.compactionGrowthRatioRange.contains(Limits.compactionGrowthRatioDefault))
        #expect(Limits.replicasRange.contains(Limits.replicasDefault) && Limits.vnodesRange.contains(Limits.vnodesDefault))
        #expect(Limits.headerTimeoutMsRange.contains(Int(Limits.headerTimeoutMsDefault)))
        #expect(Limits.idleTimeoutMsRange.contains(Int(Limits.idleTimeoutMsDefault)))
        #expect(Limits.connectionsMaxRange.contains(Limits.connectionsMaxDefault))
        #expect(Limits.connectionsPerAddressMaxRange.contains(Limits.connectionsPerAddressMaxDefault))
        #expect(Limits.connectionsPerAddressMaxDefault * 5 <= Limits.connectionsMaxDefault, "one address holds a small share by default")
        #expect(Limits.clockSkewMsRange.contains(Int(Limits.clockSkewMsDefault)))
        #expect(ClusterLimits.problem(nodes: 4, replicas: Limits.replicasDefault, vnodes: Limits.vnodesDefault, source: "h") == nil)
    }

    @Test("--max-connections-per-address: above --max-connections refused by both (one address could take every slot), 0 refused, by default the lower of 1000 and --max-connections")
    func connectionsPerAddress() throws {
        let expected = "--max-connections-per-address 11 is more than --max-connections 10"
        #expect(refusal { try proxy(["--max-connections", "10", "--max-connections-per-address", "11"]) }?.contains(expected) == true)
        #expect(refusal { try node(["--max-connections", "10", "--max-connections-per-address", "11"]) }?.contains(expected) == true)
        #expect(refusal { try node(["--max-connections-per-address", "0"]) } != nil)
        #expect(try node(["--max-connections", "10", "--max-connections-per-address", "10"])?.limits.connectionsPerAddressMax == 10)
        #expect(try node([])?.limits.connectionsPerAddressMax == Limits.connectionsPerAddressMaxDefault)
        #expect(try node(["--max-connections", "2"])?.limits.connectionsPerAddressMax == 2)
        #expect(try proxy(["--max-connections-per-address", "7"])?.limits.connectionsPerAddressMax == 7)
    }
}
