// Create-only writes through the proxy: a name is given to a link only if no live link has it,
// and two proxies can never give one name to two links (docs/DECISIONS.md "Create-only writes").
//
//   name (given, or ShortNames.generate) ─▶ version (ProxyClock) ─▶ the key's replicas that are
//   up, IN RING ORDER (while a membership change moves data: the current membership's, then
//   the older ones', Placement.allReplicas) ─▶ one at a time: PUT /_/kv?v=V&if=absent&short=S
//        ├─ 200 absent (durable there)        ─▶ the next replica ─▶ … all done ─▶ 201 created
//        ├─ 409 newer tombstone               ─▶ re-mint above it, ask the same replica again
//        ├─ failed / 422                      ─▶ skip it (repair copies the write later); none
//        │                                       stored at the end ─▶ 503
//        ├─ 421 (a newer membership)          ─▶ skip it; at the end, held until this proxy
//        │                                       re-read its hosts file, then the replicas it
//        │                                       then knows that lack the create are asked
//        │                                       (MembershipHolds, MembershipRetry)
//        └─ 412 taken (value H at version W)  ─▶ nothing stored yet: taken
//                                                 some replicas stored it: RESTORE them — write H
//                                                 there with a new version — then taken
//   taken ─▶ a given name: 412;  a generated one: a new name (at most
//            Limits.generatedNameAttemptsMax), since nobody chose it
//
// Why one replica at a time in ring order: every proxy asks the replicas of a name in the same
// order, so two creates of one name meet at the first replica both can reach, and the node
// decides there, atomically (its pending creates, PendingCreates.swift): one is stored, the
// other is refused and has stored nothing. A create that was stored early and refused later
// met a link that a later replica holds and an earlier one lacks (that replica missed it, or
// another proxy's view of which nodes are up differs); it puts that link back where it wrote
// its own, so its own never wins repair, and reports the name taken. The cost: a create waits
// for each replica's fdatasync in turn (two for two replicas) — creates are rare next to reads.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class CreateWriter {
    enum Outcome {
        case created(name: [UInt8])
        case refused(HTTPParseFailure)
    }

    private let cluster: ProxyCluster
    private let clock: ProxyClock
    private let metrics: ProxyMetrics
    private let membershipHolds: MembershipHolds
    /// Every request to a node is made by the cluster's encoder, which says the membership generation.
    private var requests: InternalRequestEncoder { cluster.requests }

    init(cluster: ProxyCluster, clock: ProxyClock, metrics: ProxyMetrics, membershipHolds: MembershipHolds) {
        self.cluster = cluster
        self.clock = clock
        self.metrics = metrics
        self.membershipHolds = membershipHolds
    }

    func create(_ request: CreateRequest, done: @escaping (Outcome) -> Void) {
        start(CreateAttempt(request: request, done: done))
    }

    /// Names the attempt (a new generated name each time) and asks its first replica.
    private func start(_ attempt: CreateAttempt) {
        attempt.names += 1
        let name = attempt.request.short ?? ShortNames.generate()
        guard let version = clock.next() else {
            return attempt.done(.refused(HTTPParseFailure(.serviceUnavailable,
                "This proxy has not yet heard from any storage node, so it cannot version writes; try again in a moment.")))
        }
        let nodes = cluster.nodes
        attempt.targets = cluster.placement.writeReplicas(forKey: name).map { nodes[$0] }.filter { $0.health.isUsable }
        guard !attempt.targets.isEmpty else {
            return attempt.done(.refused(HTTPParseFailure(.serviceUnavailable, "No replica of this name is up; try again in a moment.")))
        }
        attempt.record = LogRecord(version: version, op: .put, key: name, value: attempt.request.long)
        attempt.stage = 0
        attempt.stored = []
        attempt.conflicts = 0
        attempt.sawNewerGeneration = false
        ask(attempt)
    }

    private func ask(_ attempt: CreateAttempt) {
        guard attempt.stage < attempt.targets.count else { return finish(attempt) }
        let node = attempt.targets[attempt.stage]
        let accepted = node.submit(requests.makeCreate(attempt.record)) { [unowned self] reply in
            if case .answered(421, _, _, _) = reply { attempt.sawNewerGeneration = true }
            self.replied(attempt, node, WriteReply(reply))
        }
        if !accepted { replied(attempt, node, .failed) }
    }

    private func replied(_ attempt: CreateAttempt, _ node: NodeClient, _ reply: WriteReply) {
        switch reply {
        case .acknowledged:
            attempt.stored.append(node)
        case .taken(_, let value):
            return taken(attempt, heldValue: value)
        case .newer(let version):
            attempt.conflicts += 1
            metrics.versionConflicts += 1
            if attempt.conflicts < Limits.writeAttemptsMax, clock.observe(version), let again = clock.next() {
                attempt.record.version = again
                return ask(attempt)  // the same replica, above its newer tombstone
            }
        case .refusedInput:
            attempt.refusals += 1
        case .refusedAhead:
            metrics.skewRefusals += 1
        case .failed:
            break
        }
        attempt.stage += 1
        ask(attempt)
    }

    private func finish(_ attempt: CreateAttempt) {
        if attempt.sawNewerGeneration && attempt.refusals == 0 && attempt.membershipRetry.mayRetry {
            // A replica serves a newer membership and refused (421; a node keeps no create it
            // refuses so): once this proxy has re-read its file, the replicas it then knows that
            // do not hold the link yet are asked, before the client's answer.
            return membershipHolds.hold(attempt.membershipRetry) { [unowned self] retry in
                attempt.membershipRetry = retry
                self.resume(attempt)
            }
        }
        if !attempt.stored.isEmpty {
            if attempt.stored.count < attempt.targets.count { metrics.partialWrites += 1 }
            return attempt.done(.created(name: attempt.record.key))
        }
        if attempt.refusals > 0 { return attempt.done(.refused(HTTPParseFailure(.badRequest, ProxyService.refusedByNodes))) }
        attempt.done(.refused(HTTPParseFailure(.serviceUnavailable, "No replica of this name could store the link; try again in a moment.")))
    }

    /// Asks, in ring order, the usable replicas of the membership now served that do not hold
    /// this create yet (same name, same version).
    private func resume(_ attempt: CreateAttempt) {
        let nodes = cluster.nodes
        let rest = cluster.placement.writeReplicas(forKey: attempt.record.key).map { nodes[$0] }
            .filter { node in node.health.isUsable && !attempt.stored.contains { $0 === node } }
        attempt.targets = attempt.stored + rest
        attempt.stage = attempt.stored.count
        attempt.sawNewerGeneration = false
        ask(attempt)
    }

    /// The name holds a live link: put it back where this create already wrote, then try a new
    /// generated name, or report the given one taken.
    private func taken(_ attempt: CreateAttempt, heldValue: [UInt8]) {
        restore(heldValue, of: attempt.record.key, on: attempt.stored) { [unowned self] in
            if attempt.request.short == nil && attempt.names < Limits.generatedNameAttemptsMax { return self.start(attempt) }
            attempt.done(.refused(attempt.request.short == nil ? CreateFailures.noFreeName : CreateFailures.taken(attempt.record.key)))
        }
    }

    /// Writes `value` to `key` on `nodes` with a version above this create's, then `then`. A 409
    /// means something newer is there already, which is as good.
    private func restore(_ value: [UInt8], of key: [UInt8], on nodes: [NodeClient], then: @escaping () -> Void) {
        guard !nodes.isEmpty, let version = clock.next() else { return then() }
        Log.warning("a create of '\(String(decoding: key, as: UTF8.self))' met a link some replicas lacked: "
            + "putting it back on \(nodes.count) replica(s) and answering 412")
        let request = requests.makeWrite(LogRecord(version: version, op: .put, key: key, value: value))
        var waiting = nodes.count
        for node in nodes {
            let accepted = node.submit(request) { _ in
                waiting -= 1
                if waiting == 0 { then() }
            }
            if !accepted {
                waiting -= 1
                if waiting == 0 { then() }
            }
        }
    }
}

/// One create in flight: its request, the name and version being tried, and how far it got.
final class CreateAttempt {
    let request: CreateRequest
    let done: (CreateWriter.Outcome) -> Void
    var record = LogRecord(version: 0, op: .put, key: [], value: [])
    var targets: [NodeClient] = []
    var stage = 0
    var stored: [NodeClient] = []
    var names = 0
    var conflicts = 0
    var refusals = 0
    /// A replica of this name answered 421 (it serves a newer membership) in the current try.
    var sawNewerGeneration = false
    /// How often it was resumed after a 421 (`CreateWriter.resume`), and when it last was.
    var membershipRetry: MembershipRetry

    init(request: CreateRequest, done: @escaping (CreateWriter.Outcome) -> Void) {
        self.request = request
        self.done = done
        membershipRetry = MembershipRetry(sentNs: MonotonicClock.nowNs())
    }
}
