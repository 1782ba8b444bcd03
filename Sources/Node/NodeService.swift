// The storage node's request handling: the public data API over the in-memory index, the
// versioned internal routes the proxy uses, and health.
//
//   GET/HEAD /S          index lookup ─▶ 307 Location / 404
//   PUT /?short&long     version from the node's own clock ─▶ CommitLog ─▶ 200 "recorded"
//   DELETE /S            tombstone, same path ─▶ 200 / 404
//   /_/health            JSON state (no token needed: it changes nothing)
//   /_/kv…               versioned reads and writes for the proxy (docs/PROTOCOL.md); with a
//                        cluster token configured, only requests carrying it (else 401)
//   /_/digests, /_/keys, /_/records   repair between peers (RepairRoutes.swift), token too
//
// State: `recovering` from start-up until the first repair with every peer is done (writes
// are accepted, reads answered with X-Recovering: 1 so the proxy prefers a ready replica),
// then `ready`. A node without a hosts file has no peers and is ready at once.
//
// Reads answer at once from the index; writes answer after the commit log made them durable.
// A node alone is a complete URL shortener: public writes take versions from its own hybrid
// clock, which observes every version it accepts, so its own later write always wins.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class NodeService: HTTPRequestHandler {
    var index: KeyValueIndex
    private var clock: HybridClock
    /// False while the node catches up with its peers after start-up.
    var isReady = true
    var antiEntropy: AntiEntropy?
    var compactor: LogCompactor?
    private let clusterToken: [UInt8]?
    private let fsync: FsyncPolicy
    var commitLog: CommitLog!
    var server: HTTPServer!

    init(index: KeyValueIndex, origin: UInt64, clusterToken: [UInt8]?, fsync: FsyncPolicy) {
        self.index = index
        self.clock = HybridClock(origin: origin)
        self.clusterToken = clusterToken
        self.fsync = fsync
    }

    /// Drops the references to the parts that refer back to this service (after the loop ended).
    func detach() {
        commitLog = nil
        server = nil
        antiEntropy = nil
        compactor = nil
    }

    /// Sets the clock's origin once the real listen address is known.
    func rebindOrigin(_ origin: UInt64) {
        var rebound = HybridClock(origin: origin)
        for (_, stored) in index.entries { rebound.observe(stored.version) }
        clock = rebound
    }

    func apply(_ record: LogRecord) {
        index.apply(record)
    }

    func handle(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, on connection: HTTPConnection) {
        switch PublicRequest.interpret(head, buffer) {
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
    /// `done(true)` then. Used by client writes and by repair alike.
    func store(_ record: LogRecord, done: @escaping (Bool) -> Void) {
        clock.observe(record.version)
        if let current = index.lookup(record.key), current.version >= record.version {
            return done(true)
        }
        commitLog.submit(record, done: done)
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
        guard isAuthorized(head, buffer) else {
            return connection.respondFailure(HTTPParseFailure(.unauthorized, "This route needs the cluster token (X-Cluster-Token)."))
        }
        guard ASCII.equals(buffer, path, Self.kvPath) else {
            return routeRepair(head, buffer, path: path, query: query, body: body, on: connection)
        }
        switch InternalRequest.parse(head.method, buffer, query: query, body: body) {
        case .success(let request): perform(request, on: connection)
        case .failure(let failure): connection.respondFailure(failure)
        }
    }

    func rejectMethod(_ connection: HTTPConnection, allow: String) {
        connection.respond(.methodNotAllowed, body: Pages.failure(HTTPParseFailure(.methodNotAllowed, "Allowed methods are \(allow).")),
                           extraHeaders: [Array("Allow: \(allow)".utf8)])
    }

    private func isAuthorized(_ head: HTTPRequestHead, _ buffer: [UInt8]) -> Bool {
        guard let expected = clusterToken else { return true }
        guard let given = head.clusterToken else { return false }
        return ConstantTime.equals(buffer, given, expected)
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
            let current = index.lookup(record.key)
            if let current, current.version > record.version {
                // A newer write is already durable here. Acknowledging this one would report
                // success for a write that lost: the proxy re-mints a newer version and retries.
                return connection.respond(.conflict, contentType: ContentType.text, body: Array("newer version held\n".utf8),
                                          extraHeaders: [Array("X-Version: \(current.version)".utf8)])
            }
            let existed = current?.value != nil
            write(record, on: connection, concurrent: true) {
                $0.respond(.ok, contentType: ContentType.text, body: Array((existed ? "existed\n" : "absent\n").utf8))
            }
        }
    }

    private func healthJSON() -> [UInt8] {
        let text = "{\"state\":\"\(isReady ? "ready" : "recovering")\",\"keys\":\(index.liveKeys),\"tombstones\":\(index.tombstones),"
            + "\"logBytes\":\(commitLog.sizeBytes),\"recordBytes\":\(index.recordBytes),\"compactions\":\(compactor?.completed ?? 0),"
            + "\"compacting\":\(compactor?.isRunning ?? false),\"fsync\":\"\(fsync.rawValue)\",\"writable\":\(commitLog.isWritable),"
            + "\"connections\":\(server?.connectionCount ?? 0),\"sync\":\(antiEntropy?.statusJSON() ?? "null")}\n"
        return Array(text.utf8)
    }
}
