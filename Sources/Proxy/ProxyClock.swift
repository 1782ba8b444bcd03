// The proxy's one version clock (ClusterClock), fed by the sentinel's pings and read by the
// router, the operator routes and the metrics.
//
//   Sentinel: a node answered its ping ─▶ nodeAnswered ─▶ learn from every node's latest sample,
//             observe the node's version clock ─▶ first time: onLearned (the router's held
//             writes go out)
//   ProxyService: next() for each write, observe() for every version a node answers with
//
// It also says, in the log, what an operator must fix: this host's clock far from the nodes'
// (harmless for versions, which follow the nodes, but a sign NTP is broken), a node's clock
// far from the other nodes' (that node will refuse writes), or nodes that report no clock.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class ProxyClock {
    private var clock: ClusterClock
    /// Called once, when cluster time is first known.
    var onLearned: (() -> Void)?
    private var ownClockReport = RepeatedFailureReport()
    private var outlierReport = RepeatedFailureReport()
    private var saidNoClock = false

    init(origin: UInt64, skew: VersionSkew) {
        clock = ClusterClock(origin: origin, skew: skew)
    }

    var skew: VersionSkew { clock.skew }
    var isLearned: Bool { clock.isLearned }

    /// A version for a write, or nil while cluster time is unknown (the first ping round).
    func next() -> UInt64? { clock.next(monotonicMs: MonotonicClock.nowMs()) }

    /// Moves past a version a node answered with; false (and no move) when it is more than
    /// the skew bound ahead of cluster time. Reading the time only when it matters keeps
    /// this off the read path's costs: almost every version read is below the latest.
    @discardableResult
    func observe(_ version: UInt64) -> Bool {
        version <= clock.latest || clock.observe(version, monotonicMs: MonotonicClock.nowMs())
    }

    func aheadMs(of version: UInt64) -> UInt64 { clock.aheadMs(of: version, monotonicMs: MonotonicClock.nowMs()) }

    /// Cluster time minus this host's wall clock (ms), nil while unknown.
    var ownOffsetMs: Int64? {
        clock.nowUnixMs(monotonicMs: MonotonicClock.nowMs()).map { $0 - WallClock.nowMs() }
    }

    /// `node` answered a ping with `report`: learn from every node's latest sample.
    func nodeAnswered(_ node: NodeClient, _ report: NodeReport, among nodes: [NodeClient]) {
        let wasLearned = clock.isLearned
        if report.wallClockMs == nil {
            noteNodeWithoutClock(node)
        } else {
            clock.learn(nodes.compactMap { $0.health.isUsable ? $0.clockSample : nil })
        }
        if let versionClock = report.versionClock, clock.isLearned, !clock.observe(versionClock, monotonicMs: MonotonicClock.nowMs()) {
            Log.warning("\(node.address) reports version clock \(versionClock), \(aheadMs(of: versionClock)) ms ahead of cluster time: not followed")
        }
        reportClocks(nodes)
        if !wasLearned && clock.isLearned { onLearned?() }
    }

    private func noteNodeWithoutClock(_ node: NodeClient) {
        guard !clock.isLearned else { return }
        clock.fallBackToWallClock(monotonicMs: MonotonicClock.nowMs(), wallMs: WallClock.nowMs())
        if !saidNoClock {
            saidNoClock = true
            Log.warning("\(node.address) reports no clock (an older release): this proxy mints versions on its own "
                + "wall clock until nodes report theirs")
        }
    }

    /// Logs (rate-limited) this host's clock or a node's clock disagreeing with cluster time.
    private func reportClocks(_ nodes: [NodeClient]) {
        let now = MonotonicClock.nowMs()
        let bound = Int64(skew.skewMsMax)
        if let offset = ownOffsetMs, abs(offset) > bound {
            Log.failure(&ownClockReport, nowMs: now, level: .warning, first: ownClockLine(offset)) { more, seconds in
                self.ownClockLine(offset) + " (\(more) such readings in the last \(seconds) s)"
            }
        } else {
            Log.recovery(&ownClockReport, nowMs: now) { _, _ in "this host's clock agrees with the nodes' again" }
        }
        guard let reference = clock.referenceMs else { return }
        let outliers = nodes.filter { node in node.clockSample.map { abs($0.referenceMs - reference) > bound } ?? false }
        if let example = outliers.first, let sample = example.clockSample {
            let line = "\(outliers.count) node(s) disagree with cluster time by more than \(bound) ms (--clock-skew-ms), e.g. "
                + "\(example.address) by \(sample.referenceMs - reference) ms: it refuses writes minted on cluster time; check NTP on it"
            Log.failure(&outlierReport, nowMs: now, level: .warning, first: line) { more, seconds in
                line + " (\(more) such readings in the last \(seconds) s)"
            }
        } else {
            Log.recovery(&outlierReport, nowMs: now) { _, _ in "every node's clock agrees with cluster time again" }
        }
    }

    private func ownClockLine(_ offset: Int64) -> String {
        "this host's clock is \(abs(offset)) ms \(offset > 0 ? "behind" : "ahead of") the storage nodes' "
            + "(more than --clock-skew-ms \(skew.skewMsMax)): versions follow the nodes' clocks, but check NTP on this host"
    }
}
