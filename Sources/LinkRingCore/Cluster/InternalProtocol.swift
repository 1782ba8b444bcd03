// The internal protocol's one codec: every request LinkRing sends to a node, and what every
// node answer means (docs/PROTOCOL.md, "Node internal routes"). Nothing outside this file
// builds those request bytes or reads meaning into those answers; the node's side of the same
// door is `InternalRequest.parse` (the /_/kv routes), `SyncCodec` (the repair bodies) and
// `Response.appendVersioned` (the read answer).
//
//   sender            request (InternalRequestEncoder)              node answers       read back as
//   proxy GET /S      GET /_/kv?short=S                             200 L | 404        ReadReply
//   proxy PUT/DELETE  PUT|DELETE /_/kv?v=V&short=S  (body L)        WriteAnswer ─────▶ WriteReply
//   proxy DELETE      DELETE /_/kv?v=V&if=live&short=S (first ask)  WriteAnswer ─────▶ WriteReply
//   proxy create      PUT /_/kv?v=V&if=absent&short=S  (body L)     WriteAnswer ─────▶ WriteReply
//   proxy, per node   GET /_/health  (no token: health needs none)  200 JSON           NodeReport
//   node, repair      GET /_/digests · GET /_/keys?r=R&from=F · POST /_/records   SyncCodec bodies
//   node, handoff     POST /_/handoff (body: log records)                200 once all durable
//   any of them, from a process of an older membership generation ──▶ 421 (GenerationGate)
//
// Every request head has one layout: the request line, `Host`, `X-Generation` when the sender
// knows its membership (every proxy and every node of a cluster), `X-Cluster-Token` when the
// sender has one, `Content-Length` on the methods that carry a body (PUT, DELETE, POST; a
// DELETE says 0), then the blank line and the body. The Host and token lines are the same for
// every request of one encoder, so they are built once, at `init` (a new membership makes a
// new encoder); a request is then one
// reserved `[UInt8]` filled from StaticStrings, those lines and the key (no String, no
// interpolation: the proxy builds one per client request).
//
// The proxy sends the same bytes of a write to every replica, so its Host names the cluster
// (`clusterHost`), not a node; a peer's repair requests and a ping name the node they go to.

/// Builds the requests one sender (the proxy, or a node repairing from one peer) sends to nodes.
package struct InternalRequestEncoder: Sendable {
    /// The Host of the proxy's /_/kv requests, which go to several nodes alike.
    package static let clusterHost = "linkring"

    /// `Host: HOST` and its CRLF, then `X-Generation: N` and its CRLF when there is one.
    private let hostLine: [UInt8]
    /// `X-Cluster-Token: TOKEN` and its CRLF, or nothing.
    private let tokenLine: [UInt8]

    package init(host: String, clusterToken: [UInt8]?, generation: UInt64? = nil) {
        hostLine = Array(("Host: \(host)\r\n" + (generation.map { "X-Generation: \($0)\r\n" } ?? "")).utf8)
        tokenLine = ClusterToken.headerLine(clusterToken)
    }

    /// Room for the variable parts of a head besides the key and the fixed lines: the version
    /// suffix of the request line, the digits of a version or page numbers and their query
    /// names, a Content-Length line and the blank line (at most about 90 bytes).
    private static let headRoomBytes = 96

    /// `GET /_/kv?short=KEY`: the key's value and version. `key` is a validated short name
    /// (unreserved bytes only), so it goes into the target as it is.
    package func makeRead(key: [UInt8]) -> [UInt8] {
        var bytes = start("GET /_/kv?short=", variableBytes: key.count)
        bytes += key
        endHead(&bytes)
        return bytes
    }

    /// `PUT` (body: the long URL) or `DELETE /_/kv?v=VERSION&short=KEY` of `record`.
    package func makeWrite(_ record: LogRecord) -> [UInt8] {
        assert(record.op != .forget, "a forget record is logged by a node, never sent")
        return makeWrite(record, parameters: "&short=")
    }

    /// `DELETE /_/kv?v=VERSION&if=live&short=KEY`: the tombstone `record`, to be written only
    /// over a live value (the proxy's first ask of a DELETE; InternalRequest.deleteIfLive).
    package func makeDeleteIfLive(_ record: LogRecord) -> [UInt8] {
        assert(record.op == .delete, "only a DELETE is conditional")
        return makeWrite(record, parameters: "&if=live&short=")
    }

    /// `PUT /_/kv?v=VERSION&if=absent&short=KEY`, body the long URL: stored only when the node
    /// holds no live value of the key, durable or on its way (InternalRequest.createIfAbsent).
    package func makeCreate(_ record: LogRecord) -> [UInt8] {
        assert(record.op == .put, "only a PUT is create-only")
        return makeWrite(record, parameters: "&if=absent&short=")
    }

    private func makeWrite(_ record: LogRecord, parameters: StaticString) -> [UInt8] {
        var bytes = start(record.op == .put ? "PUT /_/kv?v=" : "DELETE /_/kv?v=",
                          variableBytes: record.key.count + record.value.count + parameters.utf8CodeUnitCount)
        Decimal.append(record.version, to: &bytes)
        bytes.append(parameters)
        bytes += record.key
        endHead(&bytes, contentLength: record.value.count)
        bytes += record.value
        return bytes
    }

    /// `GET /_/health`, without the token: health is the one route a node answers to anyone.
    package func makeHealthPing() -> [UInt8] {
        var bytes = start("GET /_/health", variableBytes: 0)
        endHead(&bytes, sendsToken: false)
        return bytes
    }

    /// `GET /_/digests`: the peer's ring id and one digest per key range.
    package func makeDigests() -> [UInt8] {
        var bytes = start("GET /_/digests", variableBytes: 0)
        endHead(&bytes)
        return bytes
    }

    /// `GET /_/keys?r=RANGE&from=OFFSET`: one page of a key range's (key, version) list.
    package func makeKeysPage(range: Int, from offset: UInt32) -> [UInt8] {
        var bytes = start("GET /_/keys?r=", variableBytes: 0)
        Decimal.append(range, to: &bytes)
        bytes.append("&from=")
        Decimal.append(UInt64(offset), to: &bytes)
        endHead(&bytes)
        return bytes
    }

    /// `POST /_/records` with `keys` in the body: the peer's current records of those keys.
    package func makeRecords(keys: [[UInt8]]) -> [UInt8] {
        let body = SyncCodec.encodeKeys(keys)
        var bytes = start("POST /_/records", variableBytes: body.count)
        endHead(&bytes, contentLength: body.count)
        bytes += body
        return bytes
    }

    /// `POST /_/handoff` with `records` (log records, encoded as in the log) in the body: the
    /// peer stores each (the newer version wins) and answers once all are durable.
    package func makeHandoff(records: [UInt8]) -> [UInt8] {
        var bytes = start("POST /_/handoff", variableBytes: records.count)
        endHead(&bytes, contentLength: records.count)
        bytes += records
        return bytes
    }

    /// The method and target of a request this encoder made, for log lines.
    package static func summary(of request: [UInt8]) -> String {
        let lineEnd = request.firstIndex(of: ASCII.cr) ?? request.count
        return String(decoding: request[..<max(0, lineEnd - versionSuffix.utf8CodeUnitCount)], as: UTF8.self)
    }

    private static let versionSuffix: StaticString = " HTTP/1.1"

    private func start(_ methodAndTarget: StaticString, variableBytes: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(methodAndTarget.utf8CodeUnitCount + variableBytes + Self.headRoomBytes + hostLine.count + tokenLine.count)
        bytes.append(methodAndTarget)
        return bytes
    }

    /// Ends the request line and writes the rest of the head in its one layout (above).
    private func endHead(_ bytes: inout [UInt8], sendsToken: Bool = true, contentLength: Int? = nil) {
        bytes.append(Self.versionSuffix)
        bytes.append("\r\n")
        bytes += hostLine
        if sendsToken { bytes += tokenLine }
        if let contentLength {
            bytes.append("Content-Length: ")
            Decimal.append(contentLength, to: &bytes)
            bytes.append("\r\n")
        }
        bytes.append("\r\n")
    }
}

/// What a node answers an internal write (PUT or DELETE /_/kv) that it could parse, as it
/// writes it. A write it cannot parse, or whose long URL its rules refuse, gets the usual 400
/// failure page instead (`WriteReply.refusedInput` on the proxy's side).
package enum WriteAnswer: Sendable, Equatable {
    /// 200 once durable (or already superseded); `existed`: the key had a live value before.
    /// A conditional DELETE (`if=live`) answered `existed: false` wrote nothing.
    case acknowledged(existed: Bool)
    /// 409: the node holds `version`, newer than the write's; nothing changed.
    case newer(version: UInt64)
    /// 422: the write's version is too far ahead of the node's clock; `reason` says how far.
    case refusedAhead(reason: String)
    /// 412 to a create-only write: the key holds a live value (`value`, at `version`), durable
    /// or on its way to the log; nothing changed.
    case taken(version: UInt64, value: [UInt8])

    package static let contentType = ContentType.text

    static let existedBody: [UInt8] = Array("existed\n".utf8)
    static let absentBody: [UInt8] = Array("absent\n".utf8)
    static let newerBody: [UInt8] = Array("newer version held\n".utf8)

    package var status: HTTPStatus {
        switch self {
        case .acknowledged: .ok
        case .newer: .conflict
        case .refusedAhead: .unprocessableContent
        case .taken: .preconditionFailed
        }
    }

    package var body: [UInt8] {
        switch self {
        case .acknowledged(let existed): existed ? Self.existedBody : Self.absentBody
        case .newer: Self.newerBody
        case .refusedAhead(let reason): Array((reason + "\n").utf8)
        case .taken(_, let value): value
        }
    }

    /// Header lines without their CRLF: a 409 and a 412 say which version the node holds.
    package var extraHeaders: [[UInt8]] {
        let version: UInt64
        switch self {
        case .newer(let held), .taken(let held, _): version = held
        default: return []
        }
        var line: [UInt8] = []
        line.append("X-Version: ")
        Decimal.append(version, to: &line)
        return [line]
    }
}

/// What a node's answer to an internal write means to the proxy.
package enum WriteReply: Sendable, Equatable {
    /// Durable on that replica; `existed`: the key had a live value there before.
    case acknowledged(existed: Bool)
    /// The replica holds `version`, newer than the write's: re-mint above it and send again.
    case newer(version: UInt64)
    /// The write's version is too far ahead of the replica's clock (the clocks disagree);
    /// `reason` is the node's sentence, cut at `Limits.quotedReasonBytesMax`.
    case refusedAhead(reason: String)
    /// 412 to a create-only write: the replica holds a live value, `value` at `version`.
    case taken(version: UInt64, value: [UInt8])
    /// 400: the replica's rules refuse what the proxy's accepted (their --allowed-schemes differ).
    case refusedInput
    /// No answer, or one that means nothing here (5xx, a 409 without X-Version): not stored.
    case failed

    /// The meaning of an answer with `status`, the value of its `X-Version` and its body.
    package init(status: Int, version: UInt64?, body: [UInt8]) {
        switch status {
        case 200: self = .acknowledged(existed: body == WriteAnswer.existedBody)
        case 409: self = version.map { .newer(version: $0) } ?? .failed
        case 412: self = version.map { .taken(version: $0, value: body) } ?? .failed
        case 422: self = .refusedAhead(reason: Self.sentence(body))
        case 400: self = .refusedInput
        default: self = .failed
        }
    }

    /// The node's sentence without the line end it is sent with, cut for a log line.
    private static func sentence(_ body: [UInt8]) -> String {
        let text = body.last == ASCII.lf ? body.dropLast() : body[...]
        return String(decoding: text.prefix(Limits.quotedReasonBytesMax), as: UTF8.self)
    }
}

/// What a node's answer to an internal read (`GET /_/kv`) means to the proxy. The node writes
/// it with `Response.appendVersioned`.
package enum ReadReply: Sendable, Equatable {
    /// 200: the key's long URL. `isRecovering`: the node is still catching up (X-Recovering).
    case found(location: [UInt8], isRecovering: Bool)
    /// 404: never written, or deleted. An answer, not a failure.
    case missing(isRecovering: Bool)
    /// Anything else: ask the next replica.
    case failed

    package init(status: Int, body: [UInt8], isRecovering: Bool) {
        switch status {
        case 200: self = .found(location: body, isRecovering: isRecovering)
        case 404: self = .missing(isRecovering: isRecovering)
        default: self = .failed
        }
    }

    /// A long URL was found.
    package var isFound: Bool {
        if case .found = self { return true }
        return false
    }

    /// An answer from a node still catching up: it may be behind a ready replica.
    package var isFromRecoveringNode: Bool {
        switch self {
        case .found(_, let isRecovering), .missing(let isRecovering): isRecovering
        case .failed: false
        }
    }
}
