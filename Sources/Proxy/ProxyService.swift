// The proxy's client side: every public request routed to the key's replicas.
//
//   GET/HEAD /S ─▶ replicas of S, ready ones first ─▶ GET /_/kv?short=S on the first
//        ├─ 200 body L ─▶ 307 Location: L           ├─ 404 ─▶ 404 (an answer, not a failure)
//        └─ refused, connection error, time-out, 5xx ─▶ the next replica at once ─▶ … ─▶ 503
//   DELETE, once versioned (below) ─▶ first DELETE /_/kv?…&if=live to every replica that is up: all of the key's
//        replicas answer "absent" ─▶ 404, nothing written anywhere; else on as any write ▼
//        (DeleteProbe.swift: a DELETE of a key nobody holds must leave no tombstone behind)
//   PUT/DELETE ─▶ version from the proxy's clock (the nodes' time, ProxyClock; until the
//        first ping answer the write waits, at most --node-timeout-ms and
//        Limits.writesAwaitingClockMax writes) ─▶ /_/kv to every replica that is up, in
//        parallel ─▶ answer once all contacted replicas replied: 200 if one acknowledged
//        durably (404 for a DELETE none had), else 503; a 409 (a replica already holds a newer
//        version, e.g. another proxy's) re-mints the write above it and sends it again, unless
//        that version is more than --clock-skew-ms ahead of this proxy's clock; a 422 (this
//        proxy's version is that far ahead of the node's clock) is logged as an error: either
//        way the clocks disagree, and the client gets a 503 that says so (VersionRules.swift); 400
//        from every replica that answered (their --allowed-schemes refuse it) ─▶ 400
//   /_/health, /_/status, /_/metrics ─▶ answered here; no /_/ path is ever forwarded
//   /, POST /, create-only PUTs, favicon, robots; the write token ─▶ PublicRoutes.swift
//
// While data moves after a membership change (Placement.swift), a write goes to the replicas
// of every membership still moving. A read of a key whose replicas changed asks a keeper (a
// replica in every membership: every writer sends to it, whatever membership it serves) as a
// read asks one replica when nothing moves; without a ready keeper, or when it fails, is late,
// behind or recovering, it asks all of them and answers with the newest (MovingRead.swift): no
// replica that has not caught up answers for a key alone. A key whose replicas are the same in
// every membership is read as always.
//
// A key is only ever read from or written to its own replicas (no rehashing on failure), so a
// node that comes back never holds writes it should not have.
//
// ProxyServer owns this router and hands it what it reads: the cluster (ring and node
// clients), the metrics it counts into, and the operator routes it passes /_/ paths to. Every
// request to a node and the meaning of every answer come from the internal protocol's codec
// (InternalProtocol.swift): `ReadReply`, `WriteReply`.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class ProxyService: HTTPRequestHandler {
    private let cluster: ProxyCluster
    private let metrics: ProxyMetrics
    private let operatorRoutes: OperatorRoutes
    private let clock: ProxyClock
    /// Writes that arrived before the proxy knew the nodes' time, oldest first.
    private var writesAwaitingClock = FIFOQueue<WriteAwaitingClock>()
    /// Requests every replica refused with 421, until the hosts file is re-read (ProxyServer
    /// tells it of every re-read).
    let membershipHolds: MembershipHolds
    /// Every request to a node is made here (InternalProtocol.swift); it says the generation.
    private var requests: InternalRequestEncoder { cluster.requests }
    private let options: ProxyOptions
    private var skewRefusals = RepeatedFailureReport()
    private var hedgeBudget = HedgeBudget()
    /// Keys acknowledged while a replica missed the write: a read answer older is behind.
    private var partialWrites = PartialWrites()
    /// The home page, the form, create-only writes and the write token (PublicRoutes.swift).
    private let publicRoutes: PublicRoutes

    init(cluster: ProxyCluster, metrics: ProxyMetrics, operatorRoutes: OperatorRoutes, options: ProxyOptions, clock: ProxyClock) {
        self.cluster = cluster
        self.metrics = metrics
        self.operatorRoutes = operatorRoutes
        self.options = options
        self.clock = clock
        let membershipHolds = MembershipHolds(metrics: metrics)
        self.membershipHolds = membershipHolds
        publicRoutes = PublicRoutes(writer: CreateWriter(cluster: cluster, clock: clock, metrics: metrics, membershipHolds: membershipHolds),
                                    metrics: metrics, options: options)
    }

    func handle(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, on connection: HTTPConnection) {
        let timer = RequestTimer(method: head.method, startedNs: MonotonicClock.nowNs())
        let request = PublicRequest.interpret(head, buffer, body: body, rules: options.urlRules)
        switch request {
        case .get(let short, _):
            read(short, answer: connection.deferResponse(), timer)
        case .put(let pair):
            guard publicRoutes.admitsWrite(head, buffer, on: connection, timer) else { return }
            write(LogRecord(version: 0, op: .put, key: pair.short, value: pair.long), on: connection, timer)
        case .delete(let short):
            guard publicRoutes.admitsWrite(head, buffer, on: connection, timer) else { return }
            write(LogRecord(version: 0, op: .delete, key: short), on: connection, timer)
        case .home, .fixed, .create, .formRejected:
            publicRoutes.answer(request, head, buffer, listenAddress: operatorRoutes.listenAddress, on: connection, timer)
        case .operatorRoute(let path, let query):
            let status = operatorRoutes.answer(head, buffer, path: path, query: query, on: connection)
            metrics.finish(timer, status: status)
        case .reject(let failure):
            connection.respondFailure(failure)
            metrics.finish(timer, status: failure.status.rawValue)
        }
    }

    // MARK: reads

    private func read(_ key: [UInt8], answer: DeferredResponse, _ timer: RequestTimer, retry: MembershipRetry? = nil) {
        let retry = retry ?? MembershipRetry(sentNs: timer.startedNs)
        if cluster.placement.isMoving {
            // A key whose replicas are the same in every membership does not move: read as always.
            let moving = cluster.placement.moving(forKey: key)
            if moving.all.count > cluster.ring.replicaCount { return readMoving(key, moving, answer: answer, timer, retry: retry) }
        }
        let order = byHealth(cluster.ring.replicas(forKey: key), recoveringToo: true)
        startRead(key, order: order, answer: answer, timer, retry: retry)
    }

    /// A read of a key that moves: a ready keeper (Placement.keepers) is asked as one replica
    /// is when nothing moves; without one, every replica of every membership.
    private func readMoving(_ key: [UInt8], _ moving: Placement.MovingReplicas, answer: DeferredResponse, _ timer: RequestTimer,
                            retry: MembershipRetry) {
        let order = byHealth(moving.keepers[...], recoveringToo: false)
        guard !order.isEmpty else { return readEverywhere(key, moving, answer: answer, timer, retry: retry) }
        startRead(key, order: order, answer: answer, timer, retry: retry, everywhere: moving)
    }

    /// The node clients of `replicas`: preferred ones first, then ready ones, then (if
    /// `recoveringToo`) any other that is usable.
    private func byHealth(_ replicas: ArraySlice<Int>, recoveringToo: Bool) -> [NodeClient] {
        let nodes = cluster.nodes
        var order: [NodeClient] = []
        order.reserveCapacity(replicas.count)
        for index in replicas where nodes[index].health.isPreferred { order.append(nodes[index]) }
        for index in replicas where nodes[index].health.isReady && !nodes[index].health.isPreferred { order.append(nodes[index]) }
        guard recoveringToo else { return order }
        for index in replicas where nodes[index].health.isUsable && !nodes[index].health.isReady { order.append(nodes[index]) }
        return order
    }

    private func startRead(_ key: [UInt8], order: [NodeClient], answer: DeferredResponse, _ timer: RequestTimer, retry: MembershipRetry,
                           everywhere: Placement.MovingReplicas? = nil) {
        hedgeBudget.earn()
        let read = ReadAttempt(router: self, key: key, request: requests.makeRead(key: key), order: order, answer: answer, timer: timer)
        read.membershipRetry = retry
        read.floor = partialWrites.floor(of: key)
        read.everywhere = everywhere
        if !askNextReplica(read) { finishUnanswered(read) }
    }

    /// Sends the read to the next replica in its order that takes it; false when none is left.
    /// A failover counts when it replaces a failed or recovering answer; a hedge does not.
    private func askNextReplica(_ read: ReadAttempt, isHedge: Bool = false) -> Bool {
        while read.next < read.order.count {
            let position = read.next
            read.next += 1
            if position > 0 && !isHedge { metrics.failovers += 1 }
            if read.order[position].submit(read.request, to: read, position: position, tellsLate: true) {
                read.outstanding += 1
                return true
            }
        }
        return false
    }

    /// A replica answered (or failed). The first good answer is the client's; a recovering
    /// node's answer is kept as a fallback while another replica can still answer — but not
    /// for a replica that is late (the read was hedged away from it).
    fileprivate func replied(_ read: ReadAttempt, _ nodeReply: NodeReply) {
        read.outstanding -= 1
        var isFarAhead = false
        if case .answered(_, let version?, _, _) = nodeReply { isFarAhead = !clock.observe(version) }
        guard !read.isDone else { return }
        let reply = ReadReply(nodeReply)
        if case .answered(421, _, _, _) = nodeReply { read.sawNewerGeneration = true }
        if read.isBehind(nodeReply, isFarAhead: isFarAhead) {
            metrics.behindAnswers += 1  // it missed a write this proxy acknowledged: never the answer
        } else if case .failed = reply {
            metrics.retries += 1
        } else if reply.isFromRecoveringNode && read.everywhere != nil {
            // A keeper that is recovering may have missed writes: the next keeper, or everyone.
        } else if reply.isFromRecoveringNode && (read.next < read.order.count || (read.outstanding > 0 && !read.isHedged)) {
            // Kept while a replica is left to ask, or one not known to be late may still answer.
            if read.fallback == nil { read.fallback = reply }
        } else {
            read.isDone = true
            if read.everywhere != nil { metrics.movingReadsAtKeeper += 1 }
            return answerRead(read.key, reply, on: read.answer, read.timer)
        }
        if read.outstanding == 0 && !askNextReplica(read) { finishUnanswered(read) }
    }

    /// A request of this read is late: a recovering replica's answer, if one came, is the
    /// answer now (better a replica that may be behind than one that may be frozen); else the
    /// next replica is asked too, once, if the budget allows.
    fileprivate func hedge(_ read: ReadAttempt) {
        guard !read.isDone else { return }
        if let everywhere = read.everywhere {
            // A late keeper of a moving key: every replica of every membership is asked instead.
            guard !read.isHedged else { return }
            guard hedgeBudget.spend() else { return metrics.hedgesRefused += 1 }
            read.isHedged = true
            read.isDone = true
            metrics.hedges += 1
            return readEverywhere(read.key, everywhere, answer: read.answer, read.timer, retry: read.membershipRetry)
        }
        if let fallback = read.fallback {
            read.isDone = true
            return answerRead(read.key, fallback, on: read.answer, read.timer)
        }
        guard !read.isHedged, read.next < read.order.count else { return }
        guard hedgeBudget.spend() else { return metrics.hedgesRefused += 1 }
        read.isHedged = true
        metrics.hedges += 1
        _ = askNextReplica(read, isHedge: true)
    }

    /// No replica is left to ask: the recovering node's answer if there was one, else 503.
    private func finishUnanswered(_ read: ReadAttempt) {
        read.isDone = true
        if let everywhere = read.everywhere {
            // No keeper of a moving key answered for it: every replica of every membership is asked.
            return readEverywhere(read.key, everywhere, answer: read.answer, read.timer, retry: read.membershipRetry)
        }
        if let fallback = read.fallback { return answerRead(read.key, fallback, on: read.answer, read.timer) }
        if read.sawNewerGeneration && read.membershipRetry.mayRetry {
            return membershipHolds.hold(read.membershipRetry) { [unowned self] retry in
                self.read(read.key, answer: read.answer, read.timer, retry: retry)
            }
        }
        read.answer.respond(.serviceUnavailable, body: Pages.unavailable(operation: "GET", detail: "no replica of this key could answer."))
        metrics.finish(read.timer, status: 503)
    }

    private func answerRead(_ key: [UInt8], _ reply: ReadReply, on answer: Responder, _ timer: RequestTimer) {
        if case .found(let location, _) = reply {
            answer.respondRedirect(location: location)
            metrics.finish(timer, status: 307)
        } else {
            answer.respond(.notFound, body: Pages.notFound(short: key))
            metrics.finish(timer, status: 404)
        }
    }

    /// While data moves, for a key whose replicas changed: every replica of every membership is
    /// asked; the newest answer wins (MovingRead.swift). No hedging: every answer counts.
    private func readEverywhere(_ key: [UInt8], _ moving: Placement.MovingReplicas, answer: DeferredResponse, _ timer: RequestTimer,
                                retry: MembershipRetry, askedAgain: Bool = false) {
        if !askedAgain { metrics.movingReadsEverywhere += 1 }
        let replicas = moving.all
        let read = MovingRead(asking: replicas.count, holders: Set(replicas.indices.filter { moving.holders.contains(replicas[$0]) }))
        let gather = MovingReadAnswers(read, answer: answer, key: key, timer: timer)
        gather.floor = partialWrites.floor(of: key)
        gather.membershipRetry = retry
        gather.wasAskedAgain = askedAgain
        let request = requests.makeRead(key: key)
        // A late replica is waited for (up to --node-timeout-ms): without its answer a replica
        // that has not caught up could answer alone. Only one that fails is left out.
        for (position, index) in replicas.enumerated() {
            let accepted = cluster.nodes[index].submit(request) { [unowned self] reply in
                if case .answered(let status, let version, let body, let isRecovering) = reply {
                    if status == 421 { gather.sawNewerGeneration = true }
                    let isFarAhead = version.map { !self.clock.observe($0) } ?? false
                    if isFarAhead && gather.floor != nil {
                        // A far-future entry the acknowledged write replaced where it was applied (ReadAttempt.isBehind).
                        self.metrics.behindAnswers += 1
                        gather.read.giveUp(position)
                    } else {
                        gather.read.answered(position, status: status, version: version, body: body, isRecovering: isRecovering)
                    }
                } else {
                    gather.read.giveUp(position)
                }
                self.finishReadEverywhere(gather)
            }
            if !accepted { gather.read.giveUp(position) }
        }
        finishReadEverywhere(gather)
    }

    private func finishReadEverywhere(_ gather: MovingReadAnswers) {
        guard gather.read.isDone, !gather.isAnswered else { return }
        gather.isAnswered = true
        if gather.read.failures > 0 && !gather.wasAskedAgain, gather.read.decision.map({ !$0.isFound }) ?? false {
            // A 404 while some replica failed: the one that holds the key may be the one that failed.
            return readEverywhere(gather.key, cluster.placement.moving(forKey: gather.key), answer: gather.answer, gather.timer,
                                  retry: gather.membershipRetry, askedAgain: true)
        }
        if gather.read.isUnheardAbsence {
            // Every replica that held the key before the change failed; the new ones never saw it.
            gather.answer.respond(.serviceUnavailable, body: Pages.unavailable(operation: "GET",
                detail: "the replicas that held this key before the membership change could not answer; try again."))
            return metrics.finish(gather.timer, status: 503)
        }
        if let floor = gather.floor, let newest = gather.read.newestVersion, newest < floor {
            metrics.behindAnswers += 1  // every replica that answered missed a write this proxy acknowledged
            gather.answer.respond(.serviceUnavailable, body: Pages.unavailable(operation: "GET",
                detail: "the replicas that answered have not caught up with this key's latest write yet; try again."))
            return metrics.finish(gather.timer, status: 503)
        }
        guard let reply = gather.read.decision else {
            if gather.sawNewerGeneration && gather.membershipRetry.mayRetry {
                return membershipHolds.hold(gather.membershipRetry) { [unowned self] retry in
                    self.read(gather.key, answer: gather.answer, gather.timer, retry: retry)
                }
            }
            gather.answer.respond(.serviceUnavailable, body: Pages.unavailable(operation: "GET", detail: "no replica of this key could answer."))
            return metrics.finish(gather.timer, status: 503)
        }
        answerRead(gather.key, reply, on: gather.answer, gather.timer)
    }

    // MARK: writes

    /// Mints the write's version and sends it, or holds it until the nodes' time is known.
    private func write(_ record: LogRecord, on connection: HTTPConnection, _ timer: RequestTimer) {
        guard let version = clock.next() else { return awaitClock(record, on: connection.deferResponse(), timer) }
        var record = record
        record.version = version
        send(record, on: connection.deferResponse(), timer)
    }

    /// A PUT goes to every usable replica; a DELETE first asks them to delete only a live value.
    private func send(_ record: LogRecord, on answer: DeferredResponse, _ timer: RequestTimer, retry: MembershipRetry? = nil) {
        let retry = retry ?? MembershipRetry(sentNs: timer.startedNs)
        let replicas = cluster.placement.writeReplicas(forKey: record.key)
        guard let targets = usable(replicas, for: record, on: answer, timer) else { return }
        if record.op == .delete {
            return deleteIfLive(record, replicaCount: replicas.count, to: targets, on: answer, timer, retry: retry)
        }
        attemptWrite(record, to: targets, attempt: 1, existed: false, on: answer, timer, retry: retry)
    }

    /// The replicas a write goes to: those that are up. None: the client gets 503, and nil.
    private func usable(_ replicas: ArraySlice<Int>, for record: LogRecord, on answer: Responder, _ timer: RequestTimer) -> [NodeClient]? {
        let nodes = cluster.nodes
        var targets: [NodeClient] = []
        targets.reserveCapacity(replicas.count)
        for index in replicas where nodes[index].health.isUsable { targets.append(nodes[index]) }
        guard targets.isEmpty else { return targets }
        answer.respond(.serviceUnavailable, body: Pages.unavailable(operation: operationName(record), detail: "no replica of this key is up."))
        metrics.finish(timer, status: 503)
        return nil
    }

    /// A DELETE first asks every usable replica to delete only a live value (DeleteProbe.swift).
    /// When every replica of the key answers that it holds none, nothing was written anywhere and
    /// the answer is 404; otherwise the tombstone goes to every usable replica as any write does,
    /// so that a replica that could not be asked never brings a value back through repair.
    private func deleteIfLive(_ record: LogRecord, replicaCount: Int, to targets: [NodeClient], on answer: DeferredResponse,
                              _ timer: RequestTimer, retry: MembershipRetry) {
        let probe = DeleteProbeAnswers(DeleteProbe(replicaCount: replicaCount, asking: targets.count))
        probe.membershipRetry = retry
        let request = requests.makeDeleteIfLive(record)
        for (position, node) in targets.enumerated() {
            let onLate = { [unowned self] in
                probe.late(position)
                self.finishDeleteProbe(record, probe, to: targets, on: answer, timer)
            }
            let accepted = node.submit(request, onLate: onLate) { [unowned self] reply in
                probe.replied(position, WriteReply(reply))
                self.finishDeleteProbe(record, probe, to: targets, on: answer, timer)
            }
            if !accepted {
                probe.answers.couldNotSend()
            } else if node.health.isSuspect {
                probe.late(position)
            }
        }
        finishDeleteProbe(record, probe, to: targets, on: answer, timer)
    }

    private func finishDeleteProbe(_ record: LogRecord, _ probe: DeleteProbeAnswers, to targets: [NodeClient],
                                   on answer: DeferredResponse, _ timer: RequestTimer) {
        guard probe.answers.isDone, !probe.isDecided else { return }
        probe.isDecided = true
        switch probe.answers.decision {
        case .nothingToDelete:
            answer.respond(.notFound, body: Pages.notFound(short: record.key))
            metrics.finish(timer, status: 404)
        case .tombstoneEverywhere(let deletedOn):
            // Replicas that deleted a value in the first ask hold this very tombstone durably:
            // they acknowledge the DELETE even if every replica fails the second time.
            attemptWrite(record, to: targets, attempt: 1, existed: deletedOn > 0, acknowledged: deletedOn, on: answer, timer,
                         retry: probe.membershipRetry, firstAsk: probe)
        }
    }

    // MARK: writes before the nodes' time is known

    private func awaitClock(_ record: LogRecord, on answer: DeferredResponse, _ timer: RequestTimer) {
        guard writesAwaitingClock.count < Limits.writesAwaitingClockMax else { return answerNoClock(record, on: answer, timer) }
        let deadlineMs = MonotonicClock.nowMs() + options.nodeTimeoutMs
        writesAwaitingClock.append(WriteAwaitingClock(record: record, answer: answer, timer: timer, deadlineMs: deadlineMs))
    }

    /// The nodes' time is known (ProxyClock.onLearned): the held writes go out, oldest first.
    func releaseWritesAwaitingClock() {
        for held in writesAwaitingClock.removeAll() {
            guard let version = clock.next() else { return answerNoClock(held.record, on: held.answer, held.timer) }
            var record = held.record
            record.version = version
            send(record, on: held.answer, held.timer)
        }
    }

    /// Answers 503 to held writes past their deadline (no node answered a ping in time).
    func expireWritesAwaitingClock(nowMs: UInt64) {
        partialWrites.expire(nowMs: nowMs)
        while let held = writesAwaitingClock.first, nowMs >= held.deadlineMs {
            writesAwaitingClock.popFirst()
            answerNoClock(held.record, on: held.answer, held.timer)
        }
    }

    private func answerNoClock(_ record: LogRecord, on answer: Responder, _ timer: RequestTimer) {
        answer.respond(.serviceUnavailable, body: Pages.unavailable(operation: operationName(record),
            detail: "this proxy has not yet heard from any storage node, so it cannot version writes."))
        metrics.finish(timer, status: 503)
    }

    private func attemptWrite(_ record: LogRecord, to targets: [NodeClient], attempt: Int, existed: Bool, acknowledged: Int = 0,
                              on answer: DeferredResponse, _ timer: RequestTimer, retry: MembershipRetry, firstAsk: DeleteProbeAnswers? = nil) {
        let write = WriteAttempt(router: self, record: record, targets: targets, attempt: attempt, answer: answer, timer: timer,
                                 fanOut: WriteFanOut(waiting: targets.count, existed: existed, acknowledgements: acknowledged))
        let fanOut = write.fanOut
        fanOut.membershipRetry = retry
        fanOut.firstAsk = firstAsk
        let request = requests.makeWrite(record)
        // While data moves, a write waits for every replica, late ones too (up to
        // --node-timeout-ms): a replica that has not applied it must not be read right after.
        let waitsForLate = cluster.placement.isMoving
        for (position, node) in targets.enumerated() {
            if !node.submit(request, to: write, position: position, tellsLate: !waitsForLate) {
                fanOut.failed()
            } else if node.health.isSuspect && !waitsForLate {
                fanOut.late(position)  // already late on earlier requests: not waited for either
            }
        }
        if fanOut.isSettled { finishWrite(write) }
    }

    /// A replica of a write was found late: not waited for once another acknowledged.
    fileprivate func writeLate(_ write: WriteAttempt, position: Int) {
        write.fanOut.late(position)
        if write.fanOut.isSettled { finishWrite(write) }
    }

    /// A replica of a write replied (or failed).
    fileprivate func writeReplied(_ write: WriteAttempt, _ reply: NodeReply, position: Int) {
        let fanOut = write.fanOut
        let wasAnswered = fanOut.isAnswered
        fanOut.replied(position)
        if case .answered(421, _, _, _) = reply { fanOut.sawNewerGeneration = true }
        switch WriteReply(reply) {
        case .acknowledged(let existed): fanOut.acknowledged(existed: existed)
        case .newer(let version): fanOut.conflicted(version)
        case .refusedAhead(let reason):
            fanOut.failed(skew: true)
            metrics.skewRefusals += 1
            logSkew("\(write.targets[position].address) refuses this proxy's versions: \(reason)")
        case .refusedInput: fanOut.refused()
        case .failed, .taken: fanOut.failed()  // a 412 answers only create-only writes
        }
        if wasAnswered { return lateReplied(write.record, fanOut, targets: write.targets) }
        if fanOut.isSettled { finishWrite(write) }
    }

    /// Sends an acknowledged write again, with its version, to the replicas of the membership
    /// this proxy serves once it has re-read its hosts file (a replica answered 421).
    private func resendAfterReread(_ record: LogRecord, existed: Bool, acknowledged: Int, _ retry: MembershipRetry,
                                   on answer: DeferredResponse, _ timer: RequestTimer) {
        membershipHolds.hold(retry) { [unowned self] retry in
            guard let targets = usable(cluster.placement.writeReplicas(forKey: record.key), for: record, on: answer, timer) else { return }
            attemptWrite(record, to: targets, attempt: 1, existed: existed, acknowledged: acknowledged, on: answer, timer, retry: retry)
        }
    }

    /// How many replicas a write of `key` is meant for: its ring's, or every membership's while moving.
    private func replicaCount(of key: [UInt8]) -> Int {
        cluster.placement.isMoving ? cluster.placement.allReplicas(forKey: key).count : cluster.ring.replicaCount
    }

    /// A late replica replied to a write already answered: once every replica that had not
    /// acknowledged it has, the key's read floor goes.
    private func lateReplied(_ record: LogRecord, _ fanOut: WriteFanOut, targets: [NodeClient]) {
        if fanOut.isEverywhere && targets.count == replicaCount(of: record.key) {
            partialWrites.caughtUp(record.key, version: record.version)
        }
    }

    private func finishWrite(_ write: WriteAttempt) {
        let fanOut = write.fanOut, record = write.record, targets = write.targets, answer = write.answer, timer = write.timer
        guard !fanOut.isAnswered else { return }
        fanOut.isAnswered = true
        if let newer = fanOut.newestConflict {
            metrics.versionConflicts += 1
            guard write.attempt < Limits.writeAttemptsMax else {
                answer.respond(.serviceUnavailable, body: Pages.unavailable(operation: operationName(record),
                    detail: "the key kept changing under concurrent writes; try again."))
                return metrics.finish(timer, status: 503)
            }
            guard clock.observe(newer), let version = clock.next() else {
                metrics.skewRefusals += 1
                logSkew("a replica of '\(String(decoding: record.key, as: UTF8.self))' holds version \(newer), "
                    + "\(clock.aheadMs(of: newer)) ms ahead of cluster time (limit \(options.skew.skewMsMax) ms): "
                    + "check NTP on the nodes' hosts")
                return answerSkew(record, on: answer, timer)
            }
            var again = record
            again.version = version
            return attemptWrite(again, to: targets, attempt: write.attempt + 1, existed: fanOut.existed, on: answer, timer,
                                retry: fanOut.membershipRetry, firstAsk: fanOut.firstAsk)
        }
        if fanOut.sawNewerGeneration && fanOut.membershipRetry.mayRetry && fanOut.acknowledgements > 0 {
            // Some replica serves a newer membership and refused (421): once this proxy has
            // re-read its file, the write goes again (same version) to the replicas it then
            // knows, before the client's answer; else the write would rest on the replicas of
            // the old membership alone (a read right after could find only the others).
            return resendAfterReread(record, existed: fanOut.foundValue, acknowledged: fanOut.acknowledgements, fanOut.membershipRetry,
                                     on: answer, timer)
        }
        if fanOut.acknowledgements > 0 && (fanOut.missing > 0 || targets.count < replicaCount(of: record.key)) {
            metrics.partialWrites += 1
            partialWrites.note(record.key, version: record.version, nowMs: MonotonicClock.nowMs())
        }
        if fanOut.lateWaiting > 0 && fanOut.acknowledgements > 0 { metrics.writesWithoutLateReplicas += 1 }
        if fanOut.acknowledgements == 0 && fanOut.refusals > 0 {
            answer.respondFailure(HTTPParseFailure(.badRequest, Self.refusedByNodes))
            return metrics.finish(timer, status: 400)
        }
        guard fanOut.acknowledgements > 0 else {
            if fanOut.sawNewerGeneration && fanOut.membershipRetry.mayRetry {
                // Every replica serves a newer membership: sent again once this proxy has re-read its file.
                return membershipHolds.hold(fanOut.membershipRetry) { [unowned self] retry in self.send(record, on: answer, timer, retry: retry) }
            }
            if fanOut.skewRefusals > 0 { return answerSkew(record, on: answer, timer) }
            answer.respond(.serviceUnavailable, body: Pages.unavailable(operation: operationName(record), detail: "no replica stored it."))
            return metrics.finish(timer, status: 503)
        }
        guard record.op == .delete else {
            answer.respond(.ok, body: Pages.recorded(ShortLong(short: record.key, long: record.value)))
            return metrics.finish(timer, status: 200)
        }
        answerDelete(record, fanOut, on: answer, timer)
    }

    /// 200 when a replica held a live value, else 404 — but not while a replica that replied to
    /// the tombstone has not yet replied to the first ask it was found late on: it read that ask
    /// too, and may have deleted the value with it (then its tombstone found nothing live).
    /// Both replicas of a live key late on the first ask answered 404 before (LateDeleteTests).
    private func answerDelete(_ record: LogRecord, _ fanOut: WriteFanOut, on answer: DeferredResponse, _ timer: RequestTimer) {
        if let firstAsk = fanOut.firstAsk {
            firstAsk.onLateReply = nil
            if !fanOut.foundValue && firstAsk.awaitsLateReply(fromAnyOf: fanOut.repliedTargets) {
                firstAsk.onLateReply = { [unowned self] in answerDelete(record, fanOut, on: answer, timer) }
                return
            }
        }
        if fanOut.foundValue {
            answer.respond(.ok, body: Pages.deleted(short: record.key))
            metrics.finish(timer, status: 200)
        } else {
            answer.respond(.notFound, body: Pages.notFound(short: record.key))
            metrics.finish(timer, status: 404)
        }
    }

    static let refusedByNodes = "The nodes refused this write although the proxy accepted it "
        + "(their --allowed-schemes must agree with the proxy's)."

    private func operationName(_ record: LogRecord) -> String { record.op == .put ? "PUT" : "DELETE" }

    /// The clocks of the nodes (whose time this proxy mints on) disagree by more than the
    /// allowed skew: loud.
    private func answerSkew(_ record: LogRecord, on answer: Responder, _ timer: RequestTimer) {
        answer.respond(.serviceUnavailable, body: Pages.unavailable(operation: operationName(record),
            detail: "the clocks of the storage nodes disagree by more than \(options.skew.skewMsMax) ms; "
                + "the operator must check NTP on every host."))
        metrics.finish(timer, status: 503)
    }

    private func logSkew(_ message: String) {
        Log.failure(&skewRefusals, nowMs: MonotonicClock.nowMs(), first: message) { more, seconds in
            message + " (\(more) such refusals in the last \(seconds) s)"
        }
    }
}

/// The replies one attempt of a write is waiting for. A replica found late (its node frozen or
/// slow) is not waited for once another acknowledged: the write is settled then, and repair
/// copies it to the late replica (docs/DECISIONS.md "Slow and frozen nodes").
final class WriteFanOut {
    private var waiting: Int
    /// Replicas found late that have not replied, and which.
    private(set) var lateWaiting = 0
    private var lateTargets = ReplicaPositions()
    private(set) var acknowledgements = 0
    private(set) var failures = 0
    private(set) var refusals = 0
    /// Some replica had a live value (for DELETE's 200 or 404), in this or an earlier attempt.
    private(set) var existed: Bool
    /// The highest version a replica said it already holds (409), if any did.
    private(set) var newestConflict: UInt64? = nil
    /// Replicas that refused the version as too far ahead of their clock (422).
    private(set) var skewRefusals = 0
    var isAnswered = false
    /// A replica answered 421 (it serves a newer membership): the write may go again after
    /// the proxy re-read its hosts file (`membershipRetry`).
    var sawNewerGeneration = false
    /// How often it went again after a 421, and when it was last sent.
    var membershipRetry = MembershipRetry(sentNs: 0)
    /// A DELETE's first ask, whose late replies may still say a replica deleted a live value.
    var firstAsk: DeleteProbeAnswers?
    /// Replicas that replied to this attempt, whatever they said.
    private(set) var repliedTargets = ReplicaPositions()

    /// `acknowledgements`: replicas that already made this very record durable (a DELETE's
    /// first ask), whatever this attempt's replies are.
    init(waiting: Int, existed: Bool, acknowledgements: Int = 0) {
        self.waiting = waiting
        self.existed = existed
        self.acknowledgements = acknowledgements
    }

    /// Replicas that did not acknowledge by the time the write was answered (late, failed,
    /// refused): the write was partial when there are any.
    var missing: Int { waiting + failures + refusals }

    /// Every replica has it now: the late ones acknowledged after the answer, none failed.
    var isEverywhere: Bool { waiting == 0 && failures + refusals == 0 }

    func conflicted(_ version: UInt64) {
        waiting -= 1
        newestConflict = max(newestConflict ?? 0, version)
    }

    /// Every replica replied, or the rest are late and one acknowledged — or one answered that
    /// it holds a newer version (409): the write goes again at a newer version whatever a late
    /// replica would say, so it does not wait for it (a DELETE racing a PUT on a key whose other
    /// replica froze waited for the frozen node to be found down: the fault suite's `pause`,
    /// 1,005 ms).
    var isSettled: Bool { waiting == 0 || (waiting == lateWaiting && (acknowledgements > 0 || newestConflict != nil)) }

    func late(_ position: Int) {
        if lateTargets.mark(position) { lateWaiting += 1 }
    }

    /// The replica at `position` replied (before its kind of reply is counted).
    func replied(_ position: Int) {
        _ = repliedTargets.mark(position)
        if lateTargets.clear(position) { lateWaiting -= 1 }
    }

    /// A DELETE found a live value: in this attempt, an earlier one, or a late first ask.
    var foundValue: Bool { existed || firstAsk?.deletedLate == true }

    func acknowledged(existed: Bool) {
        waiting -= 1
        acknowledgements += 1
        self.existed = self.existed || existed
    }

    func failed(skew: Bool = false) {
        waiting -= 1
        failures += 1
        if skew { skewRefusals += 1 }
    }

    /// A replica answered 400: its rules refuse what the proxy's accepted.
    func refused() {
        waiting -= 1
        refusals += 1
    }
}

/// One attempt of a write: what was sent to which replicas, for whom, and the replies counted
/// so far. Every replica's request tells it its reply with the replica's position.
final class WriteAttempt: NodeReplyWaiter {
    /// Unowned, as the closures it replaces held it: the router reaches the attempt through
    /// its node clients' requests, and the proxy's objects own downward.
    private unowned let router: ProxyService
    let record: LogRecord
    let targets: [NodeClient]
    /// 1 for the first attempt; a 409 makes the next at a newer version.
    let attempt: Int
    let answer: DeferredResponse
    let timer: RequestTimer
    let fanOut: WriteFanOut

    init(router: ProxyService, record: LogRecord, targets: [NodeClient], attempt: Int, answer: DeferredResponse, timer: RequestTimer,
         fanOut: WriteFanOut) {
        self.router = router
        self.record = record
        self.targets = targets
        self.attempt = attempt
        self.answer = answer
        self.timer = timer
        self.fanOut = fanOut
    }

    func nodeReplied(_ reply: NodeReply, position: Int) { router.writeReplied(self, reply, position: position) }
    func nodeLate(position: Int) { router.writeLate(self, position: position) }
}

/// One client read in flight: its replicas in order, the next to ask, the answers awaited.
/// Every request it sends tells it its reply (and if it is late).
final class ReadAttempt: NodeReplyWaiter {
    /// Unowned, as the closures it replaces held it: the router reaches the attempt through
    /// its node clients' requests, and the proxy's objects own downward.
    private unowned let router: ProxyService
    let key: [UInt8]
    let request: [UInt8]
    let order: [NodeClient]
    let answer: DeferredResponse
    let timer: RequestTimer
    var next = 0
    var outstanding = 0
    var isHedged = false
    var isDone = false
    /// A recovering node's answer, used if no ready replica answers.
    var fallback: ReadReply?
    /// A replica answered 421 (this read may go again after a re-read: `membershipRetry`).
    var sawNewerGeneration = false
    /// How often it went again after a 421, and when it was last sent.
    var membershipRetry = MembershipRetry(sentNs: 0)
    /// The version of a write of this key the proxy acknowledged while a replica missed it.
    var floor: UInt64?
    /// A read of a moving key asked of its keepers: where the key is (every replica of every
    /// membership is asked when no keeper answers for it).
    var everywhere: Placement.MovingReplicas?

    /// An answer (a value or a 404) older than the floor: its replica has not caught up. So is
    /// one more than the skew bound ahead of cluster time (`isFarAhead`): no writer mints such a
    /// version and nodes refuse it, so it is a far-future entry from an older release, which
    /// the acknowledged write replaced on every replica that applied it (VersionModelTests).
    func isBehind(_ reply: NodeReply, isFarAhead: Bool) -> Bool {
        guard let floor, case .answered(let status, let version, _, _) = reply, status == 200 || status == 404 else { return false }
        return (version ?? 0) < floor || isFarAhead
    }

    init(router: ProxyService, key: [UInt8], request: [UInt8], order: [NodeClient], answer: DeferredResponse, timer: RequestTimer) {
        self.router = router
        self.key = key
        self.request = request
        self.order = order
        self.answer = answer
        self.timer = timer
    }

    func nodeReplied(_ reply: NodeReply, position: Int) { router.replied(self, reply) }
    func nodeLate(position: Int) { router.hedge(self) }
}

/// A read while data moves, and whether it was answered.
final class MovingReadAnswers {
    var read: MovingRead
    let answer: DeferredResponse
    let key: [UInt8]
    let timer: RequestTimer
    var isAnswered = false
    var sawNewerGeneration = false
    /// How often it went again after a 421, and when it was last sent.
    var membershipRetry = MembershipRetry(sentNs: 0)
    /// Asked a second time because a replica failed and the answer was 404.
    var wasAskedAgain = false
    /// The version of a write of this key the proxy acknowledged while a replica missed it.
    var floor: UInt64?

    init(_ read: MovingRead, answer: DeferredResponse, key: [UInt8], timer: RequestTimer) {
        self.read = read
        self.answer = answer
        self.key = key
        self.timer = timer
    }
}


/// A write held until the nodes' time is known.
struct WriteAwaitingClock {
    var record: LogRecord
    var answer: DeferredResponse
    var timer: RequestTimer
    var deadlineMs: UInt64
}

/// The answers to a DELETE's first ask, shared by its replies' callbacks. A replica found late
/// (frozen or slow, SlowNodeRules.swift) counts as not asked, so the DELETE is decided without
/// it — as a tombstone on every replica, never as "nothing to delete". Its reply, if it comes,
/// no longer counts for the decision, but a live value it deleted still makes the DELETE a 200:
/// that replica's tombstone then finds the value already gone.
final class DeleteProbeAnswers {
    var answers: DeleteProbe
    var isDecided = false
    /// How often this DELETE went again after a 421, and when it was last sent.
    var membershipRetry = MembershipRetry(sentNs: 0)
    private var lateTargets = ReplicaPositions()
    /// Late replicas whose reply to the first ask has not come yet.
    private var lateUnanswered = ReplicaPositions()
    /// A late replica's first ask deleted a live value.
    private(set) var deletedLate = false
    /// Runs after each late reply while a DELETE's answer waits for one (ProxyService.answerDelete).
    var onLateReply: (() -> Void)?

    init(_ answers: DeleteProbe) {
        self.answers = answers
    }

    func late(_ position: Int) {
        guard lateTargets.mark(position) else { return }
        answers.couldNotSend()
        _ = lateUnanswered.mark(position)
    }

    func replied(_ position: Int, _ reply: WriteReply) {
        guard lateTargets.contains(position) else { return answers.note(reply) }
        _ = lateUnanswered.clear(position)
        if case .acknowledged(existed: true) = reply { deletedLate = true }
        onLateReply?()
    }

    /// Whether a late first ask to one of `positions` has not been answered yet.
    func awaitsLateReply(fromAnyOf positions: ReplicaPositions) -> Bool {
        lateUnanswered.intersects(positions)
    }
}

/// A set of one write's or DELETE's replicas, by their position among its targets
/// (`Limits.replicasRange` allows at most 16, far below 64): those found late, those that
/// replied. Each is counted once, whichever comes first.
struct ReplicaPositions {
    private var bits: UInt64 = 0

    func contains(_ position: Int) -> Bool { bits & (1 << UInt64(position)) != 0 }

    /// Adds `position`; false when it already was in.
    mutating func mark(_ position: Int) -> Bool {
        guard !contains(position) else { return false }
        bits |= 1 << UInt64(position)
        return true
    }

    func intersects(_ other: ReplicaPositions) -> Bool { bits & other.bits != 0 }

    /// Removes `position`; true when it had been in.
    mutating func clear(_ position: Int) -> Bool {
        guard contains(position) else { return false }
        bits &= ~(1 << UInt64(position))
        return true
    }
}

struct RequestTimer {
    var method: HTTPMethod
    var startedNs: UInt64
}

/// A node's reply, as the internal protocol's codec reads it (a failed request means failed).
extension ReadReply {
    init(_ reply: NodeReply) {
        guard case .answered(let status, _, let body, let isRecovering) = reply else {
            self = .failed
            return
        }
        self.init(status: status, body: body, isRecovering: isRecovering)
    }
}

extension WriteReply {
    init(_ reply: NodeReply) {
        guard case .answered(let status, let version, let body, _) = reply else {
            self = .failed
            return
        }
        self.init(status: status, version: version, body: body)
    }
}
