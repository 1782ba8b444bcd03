// The storage node's router (its HTTP handler): the public data API over the Store, the
// versioned internal routes the proxy uses, the repair routes, and health. It owns nothing
// but its routes' rules: NodeServer hands it the Store (reads, writes, version rules) and,
// for /_/health, the compactor and anti-entropy; none of them refers back to it.
//
//   GET/HEAD /S          index lookup ─▶ 307 Location / 404
//   PUT /?short&long     version from the node's own clock ─▶ CommitLog ─▶ 200 "recorded"
//   DELETE /S            tombstone, same path, only over a live value ─▶ 200 / 404 (nothing written)
//   GET /, POST /, PUT with If-None-Match: *, PUT /?long=L   the home page and create-only
//                        writes (a generated name when none is given) ─▶ 201 / 412
//                        (NodeCreates.swift)
//   /_/health            JSON state: in full to operators, the ping's part to others (below)
//   /_/kv…               versioned reads and writes for the proxy (docs/PROTOCOL.md); a
//                        conditional DELETE (`if=live`) writes its tombstone only over a live value,
//                        a create-only PUT (`if=absent`) its value only where none is live
//   /_/style.css         the pages' stylesheet (the 307 body links to it)
//   /_/digests, /_/keys, /_/records   repair between peers (RepairRoutes.swift)
//
// With a cluster token, a node is not a public server: before any routing, the gate lets
// through only requests carrying the token and GET/HEAD /_/health; everything else, public
// data routes included, gets 401 and changes nothing (docs/DECISIONS.md). Without a token (a
// lone node) every route is open. The hot path pays one check of an optional for it.
//
// /_/health is the one route without a token: the proxy pings it from its own host, so it
// stays on this port for everyone. Its full document (keys, log bytes, fsync policy, repair
// counters…) goes only to operators, by the connection's operator check (OperatorAccess.swift:
// by default connections from this host, or the admin listener, NodeAdminRoutes.swift); anyone
// else gets the part a ping reads (NodeReport.json: state, clocks, repair peers and rounds).
//
// State: `recovering` from start-up until the first repair with every peer is done (writes
// are accepted, reads answered with X-Recovering: 1 so the proxy prefers a ready replica),
// then `ready`. A node without a hosts file has no peers and is ready at once.
//
// Reads answer at once from the Store's index; writes answer after the commit log made them
// durable (Store.store). A node alone is a complete URL shortener: public writes take
// versions from its own hybrid clock, which observes every version it accepts, so its own
// later write always wins.
//
// Versions (VersionRules.swift, enforced by the Store): a write or repaired record more than
// --clock-skew-ms ahead of this node's wall clock is refused (422 to the proxy); a stored
// entry that far ahead yields to the next acceptable write, through a `forget` record logged
// just before it.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class NodeService: HTTPRequestHandler {
    /// A strong reference: the GET path reads `store.index` with one load, no runtime call.
    let store: Store
    private let compactor: LogCompactor
    /// The log, for its batch counters in /_/health.
    private let commitLog: CommitLog
    /// The node's membership (generation, anti-entropy, handoff); nil for a lone node.
    private let membership: NodeMembership?
    private var antiEntropy: AntiEntropy? { membership?.antiEntropy }
    /// False while the node catches up with its peers after start-up (NodeServer sets it).
    var isReady = true
    /// Set when the node has a cluster token; nil leaves every route open.
    private let tokenGate: ClusterTokenGate?
    private let fsync: FsyncPolicy
    /// What a long URL must be to be stored, by a public PUT or an internal one alike.
    let urlRules: LongURLRules
    /// This node's id (NodeIdentity), reported in /_/health.
    private let nodeID: String
    /// Creates accepted and not yet durable: what a create-only write must also not replace.
    let pendingCreates = PendingCreates()
    /// The home page, built once.
    let homePage = FormPages.home(asksForToken: false)

    init(store: Store, compactor: LogCompactor, commitLog: CommitLog, membership: NodeMembership?, clusterToken: [UInt8]?, fsync: FsyncPolicy,
         urlRules: LongURLRules, nodeID: String) {
        self.nodeID = nodeID
        self.store = store
        self.compactor = compactor
        self.commitLog = commitLog
        self.membership = membership
        self.tokenGate = clusterToken.map { ClusterTokenGate(token: $0) }
        self.fsync = fsync
        self.urlRules = urlRules
    }

    func handle(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, on connection: HTTPConnection) {
        if let tokenGate, !tokenGate.admits(head, buffer) {
            return connection.respondFailure(ClusterTokenGate.refusal)
        }
        let request = PublicRequest.interpret(head, buffer, body: body, rules: urlRules)
        switch request {
        case .get(let short, _):
            if let value = store.index.lookup(short)?.value {
                connection.respondRedirect(location: value)
            } else {
                connection.respond(.notFound, body: Pages.notFound(short: short))
            }
        case .put(let pair):
            write(LogRecord(version: store.nextVersion(), op: .put, key: pair.short, value: pair.long), on: connection, concurrent: false) {
                $0.respond(.ok, body: Pages.recorded(pair))
            }
        case .delete(let short):
            // As the proxy's conditional DELETE: a key that holds nothing or a tombstone gets
            // 404 and no record (the version is minted after the check, so minted above all).
            guard store.index.lookup(short)?.value != nil else {
                return connection.respond(.notFound, body: Pages.notFound(short: short))
            }
            write(LogRecord(version: store.nextVersion(), op: .delete, key: short), on: connection, concurrent: false) {
                $0.respond(.ok, body: Pages.deleted(short: short))
            }
        case .operatorRoute(let path, let query):
            routeInternal(head, buffer, path: path, query: query, body: body, on: connection)
        case .reject(let failure):
            connection.respondFailure(failure)
        case .home, .fixed, .create, .formRejected:
            answerPage(request, head, buffer, on: connection)
        }
    }

    /// Logs `record` and answers with `success` once it is durable, or 503. A `concurrent`
    /// write lets the connection go on with its next requests meanwhile (internal routes).
    /// `settled` runs first either way, once the write is durable or has failed.
    func write(_ record: LogRecord, on connection: HTTPConnection, concurrent: Bool, settled: (() -> Void)? = nil,
               success: @escaping (Responder) -> Void) {
        let operation = record.op == .put ? "PUT" : "DELETE"
        guard store.acceptsWrites else {
            settled?()
            return connection.respond(.serviceUnavailable, body: Pages.unavailable(
                operation: operation, detail: "this node's log has failed; it serves reads only."))
        }
        let answer = connection.deferResponse(concurrent: concurrent)
        store.store(record) { durable in
            settled?()
            if durable {
                success(answer)
            } else {
                answer.respond(.serviceUnavailable, body: Pages.unavailable(operation: operation, detail: "the node could not write its log."))
            }
        }
    }

    // MARK: internal routes

    static let healthPath: [UInt8] = Array("health".utf8)
    static let stylePath: [UInt8] = Array("style.css".utf8)
    private static let kvPath: [UInt8] = Array("kv".utf8)

    private func routeInternal(_ head: HTTPRequestHead, _ buffer: [UInt8], path: Range<Int>, query: Range<Int>?,
                               body: Range<Int>, on connection: HTTPConnection) {
        if ASCII.equals(buffer, path, Self.healthPath) { return answerHealth(head, on: connection) }
        if ASCII.equals(buffer, path, Self.stylePath) { return connection.respondStylesheet() }
        if let generation = head.generation, let membership, membership.isOlder(generation) {
            return refuseOlder(generation, membership, head, buffer, path: path, query: query, body: body, on: connection)
        }
        guard ASCII.equals(buffer, path, Self.kvPath) else {
            return routeRepair(head, buffer, path: path, query: query, body: body, on: connection)
        }
        switch InternalRequest.parse(head.method, buffer, query: query, body: body, rules: urlRules) {
        case .success(let request): perform(request, on: connection)
        case .failure(let failure): connection.respondFailure(failure)
        }
    }

    /// 421 to a request of a process that serves an older membership: it re-reads its hosts
    /// file and sends again. A write (or a DELETE's tombstone) of a key this node replicates in
    /// its own membership is made durable first: its writer may have told its client "stored"
    /// without waiting for this (late) replica, and a proxy of this membership reads the key
    /// here alone, so the write must not wait for that writer's re-read or for repair
    /// (docs/DECISIONS.md, "Writes of a process that has not re-read its file").
    private func refuseOlder(_ generation: UInt64, _ membership: NodeMembership, _ head: HTTPRequestHead, _ buffer: [UInt8],
                             path: Range<Int>, query: Range<Int>?, body: Range<Int>, on connection: HTTPConnection) {
        let text = Array(("this node serves membership generation \(membership.generation), newer than the request's \(generation): "
                          + "the sender re-reads its hosts file\n").utf8)
        guard ASCII.equals(buffer, path, Self.kvPath),
              case .success(let request) = InternalRequest.parse(head.method, buffer, query: query, body: body, rules: urlRules),
              let record = keptOlderWrite(request), membership.replicates(record.key) else {
            return connection.respond(.misdirectedRequest, contentType: ContentType.text, body: text)
        }
        membership.olderWritesKept += 1
        write(record, on: connection, concurrent: true) { $0.respond(.misdirectedRequest, contentType: ContentType.text, body: text) }
    }

    /// What `refuseOlder` keeps of `request`: a write, or the tombstone of a DELETE that finds
    /// a live value, whose version this node takes (not too far ahead, not older than what it
    /// holds); nothing for a read or a create-only write (the sender sends those again).
    private func keptOlderWrite(_ request: InternalRequest) -> LogRecord? {
        guard store.acceptsWrites else { return nil }
        switch request {
        case .write(let record):
            guard store.refusal(of: record.version, from: Self.writer(of: record.version)) == nil,
                  store.newerVersion(held: store.index.lookup(record.key), than: record) == nil else { return nil }
            return record
        case .deleteIfLive(let record):
            guard store.refusal(of: record.version, from: Self.writer(of: record.version)) == nil,
                  case .deletesValue = store.liveDeletion(record) else { return nil }
            return record
        case .read, .createIfAbsent:
            return nil
        }
    }

    private func perform(_ request: InternalRequest, on connection: HTTPConnection) {
        switch request {
        case .read(let key):
            let stored = store.index.lookup(key)
            let version = stored?.version ?? 0
            if let value = stored?.value {
                connection.respondVersioned(.ok, value: value, version: version, isRecovering: !isReady)
            } else {
                connection.respondVersioned(.notFound, value: [], version: version, isRecovering: !isReady)
            }
        case .write(let record):
            guard admitsVersion(of: record, on: connection) else { return }
            let current = store.index.lookup(record.key)
            if let newer = store.newerVersion(held: current, than: record) {
                // A newer write is already durable here. Acknowledging this one would report
                // success for a write that lost: the proxy re-mints a newer version and retries.
                return connection.respond(WriteAnswer.newer(version: newer))
            }
            writeAcknowledged(record, existed: current?.value != nil, on: connection)
        case .deleteIfLive(let record):
            guard admitsVersion(of: record, on: connection) else { return }
            switch store.liveDeletion(record) {
            case .nothingLive: connection.respond(WriteAnswer.acknowledged(existed: false))
            case .newerValue(let version): connection.respond(WriteAnswer.newer(version: version))
            case .deletesValue: writeAcknowledged(record, existed: true, on: connection)
            }
        case .createIfAbsent(let record):
            guard admitsVersion(of: record, on: connection) else { return }
            let stored = store.index.lookup(record.key)  // one read of the log for the three checks
            if Self.isThisCreate(record, stored) { return connection.respond(WriteAnswer.acknowledged(existed: false)) }
            if let held = liveValue(of: record.key, stored: stored) {
                return connection.respond(WriteAnswer.taken(version: held.version, value: held.value))
            }
            if let newer = store.newerVersion(held: stored, than: record) {
                return connection.respond(WriteAnswer.newer(version: newer))  // a newer tombstone
            }
            create(record, on: connection, concurrent: true) { $0.respond(WriteAnswer.acknowledged(existed: false)) }
        }
    }

    /// True when `stored`, the key's durable entry, is this very create (its version and link):
    /// repair copied it from the replica the proxy asked first before the proxy asked this one.
    /// The create is stored here, so it is acknowledged; refusing it would make the create lose
    /// to itself (docs/DECISIONS.md "Create-only writes").
    private static func isThisCreate(_ record: LogRecord, _ stored: StoredValue?) -> Bool {
        guard let stored else { return false }
        return stored.version == record.version && stored.value == record.value
    }

    /// The live value `key` holds, durable or a create on its way to the log: what a
    /// create-only write must not replace.
    func liveValue(of key: [UInt8]) -> (version: UInt64, value: [UInt8])? {
        liveValue(of: key, stored: store.index.lookup(key))
    }

    /// `liveValue(of:)` with the key's durable entry already looked up.
    private func liveValue(of key: [UInt8], stored: StoredValue?) -> (version: UInt64, value: [UInt8])? {
        if let pending = pendingCreates.record(for: key) { return (pending.version, pending.value) }
        if let stored, let value = stored.value { return (stored.version, value) }
        return nil
    }

    /// Writes a create-only `record` (its key checked free by the caller), holding the key as
    /// taken until the write settles.
    func create(_ record: LogRecord, on connection: HTTPConnection, concurrent: Bool, success: @escaping (Responder) -> Void) {
        pendingCreates.begin(record)
        let pending = pendingCreates
        write(record, on: connection, concurrent: concurrent, settled: { pending.end(record) }, success: success)
    }

    /// False, with the 422 answered, when `record`'s version is too far ahead of this node's clock.
    private func admitsVersion(of record: LogRecord, on connection: HTTPConnection) -> Bool {
        guard let reason = store.refusal(of: record.version, from: Self.writer(of: record.version)) else { return true }
        connection.respond(WriteAnswer.refusedAhead(reason: reason))
        return false
    }

    /// An internal write the node takes: durable, then "existed"/"absent" (or 503).
    private func writeAcknowledged(_ record: LogRecord, existed: Bool, on connection: HTTPConnection) {
        write(record, on: connection, concurrent: true) {
            $0.respond(WriteAnswer.acknowledged(existed: existed))
        }
    }

    /// Names the proxy that minted `version` in a refusal line: its origin, which the proxy
    /// logs at start-up ("version origin N") and sets with --proxy-id.
    private static func writer(of version: UInt64) -> String {
        "a /_/kv write of the proxy with version origin \(HybridClock.split(version).origin) (its --proxy-id; "
            + "each proxy logs its origin at start-up)"
    }

    /// GET or HEAD /_/health, in full when the connection may read the operator routes.
    func answerHealth(_ head: HTTPRequestHead, on connection: HTTPConnection) {
        guard head.method == .get || head.method == .head else { return connection.respondMethodNotAllowed(allow: "GET, HEAD") }
        let body = connection.operatorRefusal(head) == nil ? healthJSON(connections: connection.publicConnectionCount) : pingJSON()
        connection.respond(.ok, contentType: ContentType.json, body: body)
    }

    /// What the proxy's ping reads, and nothing more (NodeReport, the codec of this answer).
    private func pingJSON() -> [UInt8] {
        let progress = antiEntropy?.progress ?? (peers: 0, rounds: 0)
        var report = NodeReport(readiness: isReady ? .ready : .recovering, syncRounds: UInt64(progress.rounds), peers: UInt64(progress.peers),
                                wallClockMs: store.wallClockNowMs, versionClock: store.versionClock, nodeID: nodeID)
        if let membership {
            report.generation = membership.generation
            report.isMoving = membership.memberships.isMoving
            report.movingFrom = membership.memberships.previous
            report.handoff = membership.handoffProgress
        }
        return report.json
    }

    private func healthJSON(connections: Int) -> [UInt8] {
        let index = store.index
        let text = "{\"state\":\"\(isReady ? "ready" : "recovering")\",\"node\":\"\(nodeID)\",\"keys\":\(index.liveKeys),\"tombstones\":\(index.tombstones),"
            + "\"logBytes\":\(store.logSizeBytes),\"recordBytes\":\(index.recordBytes),\"compactions\":\(compactor.completed),"
            + "\"compacting\":\(compactor.isRunning),\"fsync\":\"\(fsync.rawValue)\",\"writable\":\(store.isWritable),"
            + "\"logBatches\":\(commitLog.batchesWritten),\"logBatchRecords\":\(commitLog.recordsWritten),"
            + "\"logBatchesOnLoop\":\(commitLog.placement.batchesOnLoop),\"logSlowBatches\":\(commitLog.placement.slowBatches),"
            + "\"connections\":\(connections),\"versionsRefused\":\(store.versionsRefused),"
            + "\"farFutureReplaced\":\(store.farFutureReplaced),\"wallClockMs\":\(store.wallClockNowMs),"
            + "\"versionClock\":\(store.versionClock),\"sync\":\(antiEntropy?.statusJSON() ?? "null"),"
            + "\"membership\":\(membership?.statusJSON() ?? "null")}\n"
        return Array(text.utf8)
    }
}
