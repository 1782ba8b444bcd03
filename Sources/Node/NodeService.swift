// The storage node's request handling: the public data API over the in-memory index, the
// versioned internal routes the proxy uses, and health.
//
//   GET/HEAD /S          index lookup ─▶ 307 Location / 404
//   PUT /?short&long     version from the node's own clock ─▶ CommitLog ─▶ 200 "recorded"
//   DELETE /S            tombstone, same path ─▶ 200 / 404
//   /_/health            JSON state
//   /_/kv…               versioned reads and writes for the proxy (docs/PROTOCOL.md)
//   /_/digests, /_/keys, /_/records   repair between peers (RepairRoutes.swift)
//
// With a cluster token, a node is not a public server: before any routing, the gate lets
// through only requests carrying the token and GET/HEAD /_/health; everything else, public
// data routes included, gets 401 and changes nothing (docs/DECISIONS.md). Without a token (a
// lone node) every route is open. The hot path pays one check of an optional for it.
//
// State: `recovering` from start-up until the first repair with every peer is done (writes
// are accepted, reads answered with X-Recovering: 1 so the proxy prefers a ready replica),
// then `ready`. A node without a hosts file has no peers and is ready at once.
//
// Reads answer at once from the index; writes answer after the commit log made them durable.
// A node alone is a complete URL shortener: public writes take versions from its own hybrid
// clock, which observes every version it accepts, so its own later write always wins.
//
// Versions (VersionRules.swift): a write or repaired record more than --clock-skew-ms ahead of
// this node's wall clock is refused (422 to the proxy); a stored entry that far ahead yields
// to the next acceptable write, through a `forget` record logged just before it.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class NodeService: HTTPRequestHandler {
    var index: KeyValueIndex
    private var clock: HybridClock
    let skew: VersionSkew
    /// Writes refused because their version was too far ahead, and far-future entries replaced.
    private(set) var versionsRefused = 0
    private(set) var farFutureReplaced = 0
    private var refusals = RepeatedFailureReport()
    private var replacements = RepeatedFailureReport()
    /// False while the node catches up with its peers after start-up.
    var isReady = true
    var antiEntropy: AntiEntropy?
    var compactor: LogCompactor?
    /// Set when the node has a cluster token; nil leaves every route open.
    private let tokenGate: ClusterTokenGate?
    private let fsync: FsyncPolicy
    /// What a long URL must be to be stored, by a public PUT or an internal one alike.
    private let urlRules: LongURLRules
    var commitLog: CommitLog!
    var server: HTTPServer!

    init(index: KeyValueIndex, origin: UInt64, skew: VersionSkew, clusterToken: [UInt8]?, fsync: FsyncPolicy,
         urlRules: LongURLRules) {
        self.index = index
        self.clock = HybridClock(origin: origin, skew: skew)
        self.skew = skew
        self.tokenGate = clusterToken.map { ClusterTokenGate(token: $0) }
        self.fsync = fsync
        self.urlRules = urlRules
        observeStoredVersions()
    }

    /// Moves the clock past every stored version it may observe, and says which entries are
    /// too far ahead of the wall clock to be (they yield to the next write of their key).
    private func observeStoredVersions() {
        let now = WallClock.nowMs()
        var farAhead: [(key: [UInt8], version: UInt64)] = []
        for (key, stored) in index.entries where !clock.observe(stored.version, wallClockUnixMs: now) {
            farAhead.append((key, stored.version))
        }
        guard let example = farAhead.first else { return }
        Log.warning("\(farAhead.count) key(s) hold a version more than \(skew.skewMsMax) ms ahead of this host's clock, "
            + "e.g. '\(String(decoding: example.key, as: UTF8.self))' at \(VersionSkew.aheadMs(of: example.version, wallClockUnixMs: now)) ms "
            + "ahead: written before versions were bounded, or the clock stepped back. The next write of each key replaces it "
            + "(docs/OPERATIONS.md, \"Versions from the future\").")
    }

    /// Drops the references to the parts that refer back to this service (after the loop ended).
    func detach() {
        commitLog = nil
        server = nil
        antiEntropy = nil
        compactor = nil
    }

    func apply(_ record: LogRecord) {
        index.apply(record)
    }

    func handle(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, on connection: HTTPConnection) {
        if let tokenGate, !tokenGate.admits(head, buffer) {
            return connection.respondFailure(ClusterTokenGate.refusal)
        }
        switch PublicRequest.interpret(head, buffer, rules: urlRules) {
        case .get(let short, _):
            if let value = index.lookup(short)?.value {
                connection.respondRedirect(location: value)
            } else {
                connection.respond(.notFound, body: Pages.notFound(short: short))
            }
        case .put(let pair):
            write(LogRecord(version: nextVersion(), op: .put, key: pair.short, value: pair.long), on: connection, concurrent: false) {
                $0.respond(.ok, body: Pages.recorded(pair))
            }
        case .delete(let short):
            guard index.lookup(short)?.value != nil else {
                return connection.respond(.notFound, body: Pages.notFound(short: short))
            }
            write(LogRecord(version: nextVersion(), op: .delete, key: short), on: connection, concurrent: false) {
                $0.respond(.ok, body: Pages.deleted(short: short))
            }
        case .operatorRoute(let path, let query):
            routeInternal(head, buffer, path: path, query: query, body: body, on: connection)
        case .reject(let failure):
            connection.respondFailure(failure)
        }
    }

    private func nextVersion() -> UInt64 {
        clock.next(wallClockUnixMs: WallClock.nowMs())
    }

    /// Logs `record` and answers with `success` once it is durable, or 503. A `concurrent`
    /// write lets the connection go on with its next requests meanwhile (internal routes).
    private func write(_ record: LogRecord, on connection: HTTPConnection, concurrent: Bool,
                       success: @escaping (Responder) -> Void) {
        let operation = record.op == .put ? "PUT" : "DELETE"
        guard commitLog.acceptsWrites else {
            return connection.respond(.serviceUnavailable, body: Pages.unavailable(
                operation: operation, detail: "this node's log has failed; it serves reads only."))
        }
        let answer = connection.deferResponse(concurrent: concurrent)
        store(record) { durable in
            if durable {
                success(answer)
            } else {
                answer.respond(.serviceUnavailable, body: Pages.unavailable(operation: operation, detail: "the node could not write its log."))
            }
        }
    }

    /// Makes `record` durable and applies it, unless durable data already supersedes it;
    /// `done(true)` then. Used by client writes and by repair alike, after `refusal(of:)`.
    func store(_ record: LogRecord, done: @escaping (Bool) -> Void) {
        let now = WallClock.nowMs()
        guard clock.observe(record.version, wallClockUnixMs: now) else { return done(false) }
        if let current = index.lookup(record.key) {
            if !skew.accepts(current.version, wallClockUnixMs: now) {
                forget(record.key, current.version, replacedBy: record.version, nowUnixMs: now)
            } else if !StoredValue(record).isNewer(than: current) {
                return done(true)
            }
        }
        commitLog.submit(record, done: done)
    }

    /// Logs a `forget` of `key`'s far-future entry, in the same batch as the write that replaces it.
    private func forget(_ key: [UInt8], _ version: UInt64, replacedBy incoming: UInt64, nowUnixMs: Int64) {
        farFutureReplaced += 1
        let line = "key '\(String(decoding: key, as: UTF8.self))' held version \(version), "
            + "\(VersionSkew.aheadMs(of: version, wallClockUnixMs: nowUnixMs)) ms ahead of this host's clock: replaced by version \(incoming)"
        Log.failure(&replacements, nowMs: MonotonicClock.nowMs(), level: .warning, first: line) { more, seconds in
            line + " (\(more) far-future entries replaced in the last \(seconds) s)"
        }
        commitLog.submit(LogRecord(version: version, op: .forget, key: key)) { _ in }
    }

    /// Nil when `version` may be accepted, else why not (too far ahead of this node's clock).
    func refusal(of version: UInt64, from source: String) -> String? {
        let aheadMs = VersionSkew.aheadMs(of: version, wallClockUnixMs: WallClock.nowMs())
        guard aheadMs > skew.skewMsMax else { return nil }
        let reason = "version \(version) is \(aheadMs) ms ahead of this node's clock (limit \(skew.skewMsMax) ms, --clock-skew-ms): "
            + "check NTP on the sender's host and this one"
        noteRefused(1, "refused a version from \(source): \(reason)")
        return reason
    }

    /// Counts `count` refused versions and logs `message`: the first at once, then at most one
    /// line per `Limits.repeatedFailureLogIntervalMs` with the count since the last.
    func noteRefused(_ count: Int, _ message: String) {
        versionsRefused += count
        Log.failure(&refusals, count: count, nowMs: MonotonicClock.nowMs(), first: message) { more, seconds in
            message + " (\(more) refused in the last \(seconds) s)"
        }
    }

    // MARK: internal routes

    private static let healthPath: [UInt8] = Array("health".utf8)
    private static let kvPath: [UInt8] = Array("kv".utf8)

    private func routeInternal(_ head: HTTPRequestHead, _ buffer: [UInt8], path: Range<Int>, query: Range<Int>?,
                               body: Range<Int>, on connection: HTTPConnection) {
        if ASCII.equals(buffer, path, Self.healthPath) {
            guard head.method == .get || head.method == .head else { return rejectMethod(connection, allow: "GET, HEAD") }
            return connection.respond(.ok, contentType: ContentType.json, body: healthJSON())
        }
        guard ASCII.equals(buffer, path, Self.kvPath) else {
            return routeRepair(head, buffer, path: path, query: query, body: body, on: connection)
        }
        switch InternalRequest.parse(head.method, buffer, query: query, body: body, rules: urlRules) {
        case .success(let request): perform(request, on: connection)
        case .failure(let failure): connection.respondFailure(failure)
        }
    }

    func rejectMethod(_ connection: HTTPConnection, allow: String) {
        connection.respond(.methodNotAllowed, body: Pages.failure(HTTPParseFailure(.methodNotAllowed, "Allowed methods are \(allow).")),
                           extraHeaders: [Array("Allow: \(allow)".utf8)])
    }

    private func perform(_ request: InternalRequest, on connection: HTTPConnection) {
        switch request {
        case .read(let key):
            let stored = index.lookup(key)
            let version = stored?.version ?? 0
            if let value = stored?.value {
                connection.respondVersioned(.ok, value: value, version: version, isRecovering: !isReady)
            } else {
                connection.respondVersioned(.notFound, value: [], version: version, isRecovering: !isReady)
            }
        case .write(let record):
            if let reason = refusal(of: record.version, from: "a /_/kv write") {
                return connection.respond(WriteAnswer.refusedAhead(reason: reason))
            }
            let current = index.lookup(record.key)
            if let current, skew.accepts(current.version, wallClockUnixMs: WallClock.nowMs()), current.isNewer(than: StoredValue(record)) {
                // A newer write is already durable here. Acknowledging this one would report
                // success for a write that lost: the proxy re-mints a newer version and retries.
                return connection.respond(WriteAnswer.newer(version: current.version))
            }
            let existed = current?.value != nil
            write(record, on: connection, concurrent: true) {
                $0.respond(WriteAnswer.acknowledged(existed: existed))
            }
        }
    }

    private func healthJSON() -> [UInt8] {
        let text = "{\"state\":\"\(isReady ? "ready" : "recovering")\",\"keys\":\(index.liveKeys),\"tombstones\":\(index.tombstones),"
            + "\"logBytes\":\(commitLog.sizeBytes),\"recordBytes\":\(index.recordBytes),\"compactions\":\(compactor?.completed ?? 0),"
            + "\"compacting\":\(compactor?.isRunning ?? false),\"fsync\":\"\(fsync.rawValue)\",\"writable\":\(commitLog.isWritable),"
            + "\"connections\":\(server?.connectionCount ?? 0),\"versionsRefused\":\(versionsRefused),"
            + "\"farFutureReplaced\":\(farFutureReplaced),\"sync\":\(antiEntropy?.statusJSON() ?? "null")}\n"
        return Array(text.utf8)
    }
}
