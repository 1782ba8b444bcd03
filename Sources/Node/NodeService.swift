// The storage node's request handling: the public data API over the in-memory index, the
// versioned internal routes the proxy uses, and health.
//
//   GET/HEAD /S          index lookup ─▶ 307 Location / 404
//   PUT /?short&long     version from the node's own clock ─▶ CommitLog ─▶ 200 "recorded"
//   DELETE /S            tombstone, same path ─▶ 200 / 404
//   /_/health            JSON state (no token needed: it changes nothing)
//   /_/kv…               versioned reads and writes for the proxy (docs/PROTOCOL.md); with a
//                        cluster token configured, only requests carrying it (else 401)
//
// Reads answer at once from the index; writes answer after the commit log made them durable.
// A node alone is a complete URL shortener: public writes take versions from its own hybrid
// clock, which observes every version it accepts, so its own later write always wins.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class NodeService: HTTPRequestHandler {
    private(set) var index: KeyValueIndex
    private var clock: HybridClock
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
            write(LogRecord(version: nextVersion(), op: .put, key: pair.short, value: pair.long), on: connection) {
                $0.respond(.ok, body: Pages.recorded(pair))
            }
        case .delete(let short):
            guard index.lookup(short)?.value != nil else {
                return connection.respond(.notFound, body: Pages.notFound(short: short))
            }
            write(LogRecord(version: nextVersion(), op: .delete, key: short), on: connection) {
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

    /// Logs `record` and answers with `success` once it is durable, or 503.
    private func write(_ record: LogRecord, on connection: HTTPConnection, success: @escaping (HTTPConnection) -> Void) {
        guard commitLog.isWritable else {
            return connection.respond(.serviceUnavailable, body: Pages.unavailable(
                operation: record.op == .put ? "PUT" : "DELETE", detail: "this node's log has failed; it serves reads only."))
        }
        clock.observe(record.version)
        if let current = index.lookup(record.key), current.version >= record.version {
            return success(connection)  // already superseded by durable data
        }
        connection.deferResponse()
        commitLog.submit(record) { durable in
            if durable {
                success(connection)
            } else {
                connection.respond(.serviceUnavailable, body: Pages.unavailable(
                    operation: record.op == .put ? "PUT" : "DELETE", detail: "the node could not write its log."))
            }
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
            return connection.respondFailure(HTTPParseFailure(.notFound, "No such internal route."))
        }
        guard isAuthorized(head, buffer) else {
            return connection.respondFailure(HTTPParseFailure(.unauthorized, "This route needs the cluster token (X-Cluster-Token)."))
        }
        switch InternalRequest.parse(head.method, buffer, query: query, body: body) {
        case .success(let request): perform(request, on: connection)
        case .failure(let failure): connection.respondFailure(failure)
        }
    }

    private func rejectMethod(_ connection: HTTPConnection, allow: String) {
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
            let versionHeader = [Array("X-Version: \(stored?.version ?? 0)".utf8)]
            if let value = stored?.value {
                connection.respond(.ok, contentType: ContentType.text, body: value, extraHeaders: versionHeader)
            } else {
                connection.respond(.notFound, contentType: ContentType.text, body: [], extraHeaders: versionHeader)
            }
        case .write(let record):
            let existed = index.lookup(record.key)?.value != nil
            write(record, on: connection) {
                $0.respond(.ok, contentType: ContentType.text, body: Array((existed ? "existed\n" : "absent\n").utf8))
            }
        }
    }

    private func healthJSON() -> [UInt8] {
        let text = "{\"state\":\"ready\",\"keys\":\(index.liveKeys),\"tombstones\":\(index.tombstones),"
            + "\"logBytes\":\(commitLog.sizeBytes),\"fsync\":\"\(fsync.rawValue)\",\"writable\":\(commitLog.isWritable),"
            + "\"connections\":\(server?.connectionCount ?? 0)}\n"
        return Array(text.utf8)
    }
}
