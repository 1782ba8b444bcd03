// A node's handoff after a membership change: every key it holds whose replicas changed goes
// to the key's new replicas (HandoffRule, Placement.swift), by the node that holds it. Every
// holder sends, not one chosen source: a write acknowledged while one replica was down exists
// on one node only, and that node sends it.
//
//   adopt ─▶ a duty every Limits.handoffIntervalMs:
//     scan the next keys, for at most Limits.handoffScanMicrosecondsPerTick ─▶ each target's
//       queue of keys (paused while a queue holds Limits.handoffQueuedKeysMax: back-pressure)
//     each target with no batch in flight, at most one batch per Limits.handoffBatchIntervalMs
//     (a few times that at first, less and less over Limits.handoffRampMs)
//     (the pace that keeps the foreground's latency), no retry pending: the next keys' current records
//       (read at send time: the newest version goes) ─▶ POST /_/handoff ─▶ 200 once durable
//       there ─▶ counted; a failure keeps the batch and sends it again after
//       Limits.handoffRetryDelayMs (the target down, restarting, frozen: the change waits for it)
//   done: every key scanned, every queue empty, nothing in flight ─▶ `onDone`
//
// A key this node keeps (its replica before and after) whose other old replica is a node
// leaving the cluster waits for that node, which hands the key to the new replica itself
// (`HandoffRule.plan`, `.leavesTo`): the scan starts once the leaving node answered a first
// /_/health (one that does not, dead before the change, is waited for by nothing); this node
// asks again every Limits.handoffLeavingPollMs and is done once it reports its handoff done; if it stops
// answering for Limits.handoffLeavingSilenceMs first (killed, or removed while dead), the keys
// deferred to it are scanned again and sent from here. Removing a live node so moves each of
// its keys once, not from both of its holders (at 1M keys the keepers' copies were 870k
// records, 6 s of every node's CPU at once).
//
// Writes in flight when the change came are queued again as they are applied (the Store's
// `onApplied`), for Limits.handoffInFlightWindowMs: the scan may have passed their key. Later
// writes need no handoff: they come from proxies that serve this generation (older ones are
// answered 421), which send them to every new replica themselves. One batch per target in flight and small batches keep the foreground's
// latency: a target stores a batch as one group commit.
//
// Releasing (`Purpose.release`, NodeMembership): once no move is under way, the same walk hands
// every key of a range this node no longer holds to that range's replicas, and removes the key
// from the index once all of them acknowledged it durably (only if it did not change since:
// its version at most the one they hold); compaction then reclaims its record. A key older
// than the tombstone grace period is removed without being sent: its replicas have it or a
// newer version, or collected a tombstone over it that the old value must not undo.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class Handoff {
    /// Why the keys go: a membership change, or releasing ranges this node no longer holds.
    enum Purpose {
        case move
        case release(TombstoneRules)
    }

    /// One node keys go to.
    private final class Target {
        let address: HostPort
        var keys = FIFOQueue<[UInt8]>()
        var connection: NodeConnection?
        /// The keys of the batch in flight, with the version each was sent at.
        var inFlight: [(key: [UInt8], version: UInt64)] = []
        /// No batch goes to this target before then (pacing; a failure's retry delay).
        var nextBatchAtMs: UInt64 = 0
        var sentKeys = 0
        var sentBytes = 0
        var failures = RepeatedFailureReport()

        init(address: HostPort) { self.address = address }
    }

    /// A leaving node that held keys this node keeps, and whether it has handed them off.
    private final class LeavingSource {
        /// `unconfirmed` until its first answer: the scan waits for that (a node that does not
        /// answer then, dead before the change, is `gone` at once and nothing waits for it).
        enum State { case unconfirmed, handingOff, done, gone }
        let address: HostPort
        var state = State.unconfirmed
        /// Keys whose copy from here waits for this node (counted as the scan meets them).
        var deferred = 0
        var connection: NodeConnection?
        var isAsking = false
        var nextAskMs: UInt64 = 0
        var failingSinceMs: UInt64?

        init(address: HostPort) { self.address = address }
    }

    private let loop: EventLoop
    private let cron: Cron
    private let store: Store
    private let rule: HandoffRule
    /// The rule's answers, kept per range pair (the scan asks them of every key at the change).
    private let plans: HandoffPlans
    private let requests: (HostPort) -> InternalRequestEncoder
    private let resolver: NameResolver
    private let flusher: OutputFlusher
    private let timeoutMs: UInt64
    private let generation: UInt64
    private let targets: [Target]
    private var duty: CronDuty?
    /// The scan's place in the index (a key fingerprint: stable while the table grows); nil once done.
    private var cursor: UInt64? = 0
    private var scanned = 0
    private var onDone: (() -> Void)?
    private let startedMs: UInt64
    private var finishedMs: UInt64?
    /// A target answered 421: it serves a newer membership than this node's.
    var onNewerGeneration: (() -> Void)?
    private let purpose: Purpose
    /// The index's entries carry their range in the rule's current ring (it was partitioned by
    /// it before this handoff began): the scan skips one ring lookup per entry.
    private let rangesAreCurrent: Bool
    /// Releasing: per key sent, the targets that have still to acknowledge it and the lowest
    /// version one acknowledged (bounded by the targets' queues: the scan waits for them).
    private var unacknowledged: [[UInt8]: (targets: Int, version: UInt64)] = [:]
    /// Releasing: keys removed from the index.
    private(set) var released = 0
    /// Moving: the leaving nodes this node's kept keys wait for (HandoffRule.leavingNodes).
    private var leaving: [HostPort: LeavingSource] = [:]
    /// A leaving node went silent with keys deferred to it: once this pass ends, another sends them.
    private var rescanPending = false
    private var isRescan = false

    init(loop: EventLoop, cron: Cron, store: Store, rule: HandoffRule, generation: UInt64, timeoutMs: UInt64,
         resolver: NameResolver, purpose: Purpose = .move, requests: @escaping (HostPort) -> InternalRequestEncoder) {
        self.purpose = purpose
        self.loop = loop
        self.cron = cron
        self.store = store
        self.rule = rule
        plans = HandoffPlans(rule)
        self.generation = generation
        self.timeoutMs = timeoutMs
        self.resolver = resolver
        self.requests = requests
        flusher = OutputFlusher(loop: loop)
        targets = rule.current.nodes.map { Target(address: $0) }
        startedMs = loop.nowMs
        rangesAreCurrent = store.index.ring.map { SyncCodec.ringID($0) == SyncCodec.ringID(rule.current) } ?? false
        if case .move = purpose { for node in rule.leavingNodes { leaving[node] = LeavingSource(address: node) } }
    }

    /// Starts the duty; `done` runs once everything was handed off.
    func start(done: @escaping () -> Void) {
        onDone = done
        guard case .move = purpose else {
            duty = cron.every(Limits.handoffIntervalMs, "release of ranges") { [unowned self] in self.tick() }
            return Log.info("releasing the keys of ranges this node no longer holds (generation \(generation)): "
                            + "each goes once its replicas acknowledged it")
        }
        store.onApplied = { [unowned self] key in if self.isWanted(StableHash.hash(key)) { self.enqueue(key) } }
        duty = cron.every(Limits.handoffIntervalMs, "handoff of generation \(generation)") { [unowned self] in self.tick() }
        Log.info("handoff for generation \(generation): \(store.index.count) keys to look at")
    }

    private func tick() {
        if store.onApplied != nil && loop.nowMs - startedMs >= Limits.handoffInFlightWindowMs { store.onApplied = nil }
        if cursor == nil && rescanPending {
            rescanPending = false
            isRescan = true
            cursor = 0
        }
        scan()
        askLeavingNodes()
        for target in targets where target.inFlight.isEmpty && !target.keys.isEmpty && loop.nowMs >= target.nextBatchAtMs {
            target.nextBatchAtMs = loop.nowMs + batchIntervalMs
            sendBatch(to: target)
        }
        if isDone { finish() }
    }

    /// The pace per target: `Limits.handoffRampIntervalsMax` times Limits.handoffBatchIntervalMs
    /// at the start, down to it over Limits.handoffRampMs — at a change every node partitions,
    /// scans and begins to send at once, and a full pace from the first batch starved the
    /// foreground for a second or two.
    /// A node that stays while a live node leaves goes slower until that one is done, and one
    /// sending to many targets at once shares its pace among them (HandoffPace).
    private var batchIntervalMs: UInt64 {
        HandoffPace.batchIntervalMs(afterMs: loop.nowMs - startedMs, besideLeavingNode: isBesideLeavingNode, busyTargets: busyTargets)
    }

    /// Targets with keys queued or a batch in flight (they share the node's pace).
    private var busyTargets: Int {
        targets.reduce(0) { $0 + ($1.keys.isEmpty && $1.inFlight.isEmpty ? 0 : 1) }
    }

    /// This node stays in the membership and a node that leaves it is still handing off.
    private var isBesideLeavingNode: Bool {
        rule.selfIndex != nil && leaving.values.contains { $0.state == .unconfirmed || $0.state == .handingOff }
    }

    private var isDone: Bool {
        cursor == nil && !rescanPending && targets.allSatisfy { $0.keys.isEmpty && $0.inFlight.isEmpty }
            && leaving.values.allSatisfy { $0.deferred == 0 || $0.state != .handingOff }
    }

    /// The next slice of keys (at most Limits.handoffScanMicrosecondsPerTick of the loop),
    /// unless a target's queue is full.
    private func scan() {
        guard cursor != nil, targets.allSatisfy({ $0.keys.count < Limits.handoffQueuedKeysMax }) else { return }
        guard leaving.values.allSatisfy({ $0.state != .unconfirmed }) else { return }
        let deadlineNs = MonotonicClock.nowNs() + Limits.handoffScanMicrosecondsPerTick * 1000
        while let from = cursor {
            // Only keys that go anywhere are read from the log (most of a node's keys stay).
            var walked = 0
            let step = store.index.keys(from: from, slots: Limits.handoffScanKeysPerStep) { fingerprint, range in
                walked += 1
                return isWanted(fingerprint, currentRange: rangesAreCurrent ? range : nil)
            }
            for key in step.keys { enqueue(key) }
            scanned += walked
            cursor = step.next
            if MonotonicClock.nowNs() >= deadlineNs { break }
        }
    }

    /// Whether the key with this StableHash goes from here (now): it goes somewhere, and not by
    /// a leaving node still handing it off; in a rescan, only if it waited for one now gone.
    private func isWanted(_ hash: UInt64, currentRange: Int? = nil) -> Bool {
        let holder: HostPort
        switch plans.plan(forHash: hash, currentRange: currentRange) {
        case .stays: return false
        case .sends: return !isRescan
        case .leavesTo(let node): holder = node
        }
        guard let source = leaving[holder] else { return !isRescan }
        guard source.state == .gone else {
            if !isRescan { source.deferred += 1 }
            return false
        }
        return true
    }

    /// Asks each leaving node with keys deferred to it whether its handoff is done.
    private func askLeavingNodes() {
        for source in leaving.values where !source.isAsking && loop.nowMs >= source.nextAskMs
            && (source.state == .unconfirmed || (source.state == .handingOff && source.deferred > 0)) {
            source.isAsking = true
            source.nextAskMs = loop.nowMs + Limits.handoffLeavingPollMs
            if source.connection == nil || source.connection!.isClosed { source.connection = connect(to: source.address) }
            let request = requests(source.address).makeHealthPing()
            source.connection!.send(NodeRequest(bytes: request, deadlineMs: loop.nowMs + timeoutMs) { [unowned self] reply in
                source.isAsking = false
                self.heard(from: source, reply)
            })
        }
    }

    private func heard(from source: LeavingSource, _ reply: NodeReply) {
        guard duty != nil, source.state == .handingOff || source.state == .unconfirmed else { return }
        if case .answered(let status, _, let body, _) = reply {
            source.failingSinceMs = nil
            if source.state == .unconfirmed { source.state = .handingOff }
            guard status == 200 else { return }
            let report = NodeReport.parse(body)
            if let seen = report.generation, seen > generation { onNewerGeneration?() }
            guard report.generation == generation, !report.isMoving else { return }
            source.state = .done
            source.connection?.fail(nil)
            source.connection = nil
            return Log.info("\(source.address), leaving, handed off itself the \(source.deferred) key(s) it held that this node keeps: "
                            + "they need no copy from here")
        }
        source.connection?.fail(nil)
        source.connection = nil
        if source.state == .unconfirmed {
            source.state = .gone
            return Log.info("\(source.address), leaving, does not answer: this node sends the keys it keeps that it held too")
        }
        let since = source.failingSinceMs ?? loop.nowMs
        source.failingSinceMs = since
        guard loop.nowMs - since >= Limits.handoffLeavingSilenceMs else { return }
        source.state = .gone
        rescanPending = true
        Log.warning("\(source.address), leaving, has not answered for \(loop.nowMs - since) ms before its handoff was done: "
                    + "this node sends the \(source.deferred) key(s) it held that this node keeps")
    }

    private func enqueue(_ key: [UInt8]) {
        let keyTargets = plans.targets(forKey: key)
        guard !keyTargets.isEmpty else { return }
        if case .release(let rules) = purpose {
            guard let version = store.index.lookup(key)?.version else { return }
            if rules.isPastGrace(version: version, nowUnixMs: WallClock.nowMs()) {
                released += store.index.remove(key, ifVersionAtMost: version) ? 1 : 0
                return
            }
            unacknowledged[key] = (keyTargets.count, UInt64.max)
        }
        for target in keyTargets { targets[target].keys.append(key) }
    }

    /// Releasing: `target` acknowledged `key` at `version`; once every target did, the key goes
    /// unless it changed since.
    private func acknowledged(_ key: [UInt8], at version: UInt64) {
        guard case .release = purpose, var waiting = unacknowledged[key] else { return }
        waiting.targets -= 1
        waiting.version = min(waiting.version, version)
        guard waiting.targets == 0 else {
            unacknowledged[key] = waiting
            return
        }
        unacknowledged[key] = nil
        if store.index.remove(key, ifVersionAtMost: waiting.version) { released += 1 }
    }

    /// The current records of the target's next keys, up to a batch's limits.
    private func sendBatch(to target: Target) {
        var body: [UInt8] = []
        var keys: [(key: [UInt8], version: UInt64)] = []
        while keys.count < Limits.handoffRecordsPerBatch, body.count < Limits.handoffBatchBytesMax, let key = target.keys.popFirst() {
            guard let version = store.index.appendRecord(for: key, to: &body) else {
                unacknowledged[key] = nil  // gone (or unreadable): nothing to release
                continue
            }
            keys.append((key, version))
        }
        guard !keys.isEmpty else { return }
        target.inFlight = keys
        send(body, to: target)
    }

    private func send(_ body: [UInt8], to target: Target) {
        if target.connection == nil || target.connection!.isClosed { target.connection = connect(to: target.address) }
        let request = requests(target.address).makeHandoff(records: body)
        target.connection!.send(NodeRequest(bytes: request, deadlineMs: loop.nowMs + timeoutMs) { [unowned self] reply in
            self.sent(body.count, to: target, reply)
        })
    }

    private func connect(to address: HostPort) -> NodeConnection {
        NodeConnection(address: address, loop: loop, flusher: flusher, resolver: resolver, connectTimeoutMs: timeoutMs)
    }

    private func sent(_ bytes: Int, to target: Target, _ reply: NodeReply) {
        guard duty != nil else { return }
        if case .answered(200, _, _, _) = reply {
            target.sentKeys += target.inFlight.count
            target.sentBytes += bytes
            for (key, version) in target.inFlight { acknowledged(key, at: version) }
            target.inFlight.removeAll()
            Log.recovery(&target.failures, nowMs: loop.nowMs) { "handoff to \(target.address) works again after \($0) failed batch(es) over \($1) ms" }
            return
        }
        if case .answered(421, _, _, _) = reply { onNewerGeneration?() }
        let reason: String
        switch reply {
        case .answered(let status, _, let answer, _):
            reason = "answered \(status): \(String(decoding: answer.prefix(Limits.quotedPeerAnswerBytesMax), as: UTF8.self))"
        case .failed(let failure): reason = failure
        }
        Log.failure(&target.failures, nowMs: loop.nowMs, level: .warning, first: "handoff to \(target.address) failed: \(reason); retrying") {
            "handoff to \(target.address) still failing: \($0) more failed batch(es) in \($1) s (last: \(reason))"
        }
        // The batch's keys go back in front of the queue: their records are read again when resent.
        var requeued = FIFOQueue<[UInt8]>()
        for (key, _) in target.inFlight { requeued.append(key) }
        while let key = target.keys.popFirst() { requeued.append(key) }
        target.keys = requeued
        target.inFlight.removeAll()
        target.nextBatchAtMs = loop.nowMs + Limits.handoffRetryDelayMs
        target.connection?.fail(nil)
        target.connection = nil
    }

    private func finish() {
        guard let done = onDone else { return }
        onDone = nil
        finishedMs = loop.nowMs
        stopDuty()
        let keys = targets.reduce(0) { $0 + $1.sentKeys }
        let bytes = targets.reduce(0) { $0 + $1.sentBytes }
        if case .release = purpose {
            Log.info("released \(released) key(s) of ranges this node no longer holds (\(keys) record(s), \(bytes) bytes "
                     + "sent to their replicas first) in \(loop.nowMs - startedMs) ms; compaction reclaims their records")
            return done()
        }
        Log.info("handoff for generation \(generation) done: \(keys) record(s), \(bytes) bytes sent to "
                 + "\(targets.filter { $0.sentKeys > 0 }.count) node(s) in \(loop.nowMs - startedMs) ms")
        done()
    }

    private func stopDuty() {
        if let duty { cron.cancel(duty) }
        duty = nil
        store.onApplied = nil
    }

    func checkDeadlines(nowMs: UInt64) {
        for target in targets { target.connection?.checkDeadlines(nowMs: nowMs) }
        for source in leaving.values { source.connection?.checkDeadlines(nowMs: nowMs) }
    }

    /// Keys looked at, records and bytes sent, keys waiting, rate and ETA (/_/health).
    var progress: HandoffProgress {
        var progress = HandoffProgress()
        progress.keys = UInt64(store.index.count)
        progress.scanned = UInt64(scanned)
        progress.sentRecords = UInt64(targets.reduce(0) { $0 + $1.sentKeys })
        progress.sentBytes = UInt64(targets.reduce(0) { $0 + $1.sentBytes })
        progress.waiting = UInt64(targets.reduce(0) { $0 + $1.keys.count + $1.inFlight.count })
        progress.elapsedMs = max(1, (finishedMs ?? loop.nowMs) - startedMs)
        progress.recordsPerSecond = progress.sentRecords * 1000 / progress.elapsedMs
        progress.isDone = finishedMs != nil
        if !progress.isDone {
            let scanRate = max(1, progress.scanned * 1000 / progress.elapsedMs)
            progress.etaMs = (progress.keys - min(progress.keys, progress.scanned)) * 1000 / scanRate
                + progress.waiting * 1000 / max(1, progress.recordsPerSecond)
        }
        return progress
    }

    func close() {
        stopDuty()
        onDone = nil
        for target in targets {
            target.connection?.fail(nil)
            target.connection = nil
        }
        for source in leaving.values {
            source.connection?.fail(nil)
            source.connection = nil
        }
        flusher.close()
    }
}
