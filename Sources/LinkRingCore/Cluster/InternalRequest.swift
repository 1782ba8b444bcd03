// The node's internal `/_/kv` routes, used by the proxy (docs/PROTOCOL.md):
//
//   GET    /_/kv?short=S                 → 200 body L, X-Version: V   | 404 (X-Version of a tombstone, or 0)
//   PUT    /_/kv?v=V&short=S   body L    → 200 "existed"/"absent" once durable (last writer wins)
//   DELETE /_/kv?v=V&short=S             → 200 "existed"/"absent" once the tombstone is durable
//   DELETE /_/kv?v=V&if=live&short=S     → 200 "existed" once the tombstone is durable, only when S
//          holds a live value; "absent" at once, and nothing written, when S holds nothing or a tombstone
//   PUT    /_/kv?v=V&if=absent&short=S  body L → 200 "absent" once durable, only when S holds no
//          live value, durable or still on its way to the log; else 412, X-Version and body: the
//          value held (a create-only write, docs/DECISIONS.md "Create-only writes")
//          any write, when the node holds a NEWER version of S → 409 with X-Version: that version
//          (a conditional DELETE only when that newer entry is a live value)
//
// V is the decimal 64-bit version minted by the proxy. L travels as the raw body, so it needs
// no re-encoding (which could push a request line past its limit) and is never decoded; it
// must pass the node's own `LongURLRules` (its `--allowed-schemes`, which must agree with the
// proxy's), so a node stores nothing its public PUT would refuse.
//
// This is the node's side of the codec in InternalProtocol.swift, which makes these requests
// (`InternalRequestEncoder`) and gives the node's answers their meaning (`WriteAnswer`,
// `WriteReply`, `ReadReply`); the round trips between the two are tested together.

package enum InternalRequest: Sendable, Equatable {
    case read(key: [UInt8])
    case write(LogRecord)
    /// A DELETE that writes its tombstone only over a live value (`if=live`): the proxy's first
    /// ask, so that a DELETE of a key no replica holds leaves nothing behind (docs/DECISIONS.md).
    case deleteIfLive(LogRecord)
    /// A PUT stored only when the key holds no live value (`if=absent`): a create-only write.
    case createIfAbsent(LogRecord)

    private static let versionPrefix: [UInt8] = Array("v=".utf8)
    /// What a conditional DELETE carries between its version and its key.
    static let ifLiveParameter: [UInt8] = Array("if=live&".utf8)
    /// What a create-only PUT carries between its version and its key.
    static let ifAbsentParameter: [UInt8] = Array("if=absent&".utf8)

    package static func parse(_ method: HTTPMethod, _ buffer: [UInt8], query: Range<Int>?,
                             body: Range<Int> = 0..<0, rules: LongURLRules) -> Result<InternalRequest, HTTPParseFailure> {
        guard let query else { return .failure(HTTPParseFailure(.badRequest, "The internal route needs a query.")) }
        switch method {
        case .get, .head:
            return ShortLongQuery.parseShortOnly(buffer, query).map { .read(key: $0) }
        case .put, .delete:
            guard let (version, rest) = parseVersion(buffer, query) else {
                return .failure(HTTPParseFailure(.badRequest, "A versioned write starts with v=VERSION&."))
            }
            let condition = method == .delete ? ifLiveParameter : ifAbsentParameter
            let isConditional = ShortLongQuery.hasPrefix(buffer, rest, condition)
            let key: [UInt8]
            switch ShortLongQuery.parseShortOnly(buffer, isConditional ? rest.lowerBound + condition.count..<rest.upperBound : rest) {
            case .success(let short): key = short
            case .failure(let failure): return .failure(failure)
            }
            guard method == .put else {
                let tombstone = LogRecord(version: version, op: .delete, key: key)
                return .success(isConditional ? .deleteIfLive(tombstone) : .write(tombstone))
            }
            let value = Array(buffer[body])
            if let problem = rules.problem(value) { return .failure(HTTPParseFailure(.badRequest, problem)) }
            let record = LogRecord(version: version, op: .put, key: key, value: value)
            return .success(isConditional ? .createIfAbsent(record) : .write(record))
        default:
            return .failure(.methodNotAllowed(allow: "GET, PUT, DELETE"))
        }
    }

    /// `v=DIGITS&` at the start of the query: the version and the rest of the query.
    private static func parseVersion(_ buffer: [UInt8], _ query: Range<Int>) -> (UInt64, Range<Int>)? {
        guard ShortLongQuery.hasPrefix(buffer, query, versionPrefix) else { return nil }
        let digitsStart = query.lowerBound + versionPrefix.count
        var ampersand = digitsStart
        while ampersand < query.upperBound, buffer[ampersand] != ASCII.ampersand { ampersand += 1 }
        guard ampersand < query.upperBound, let version = Decimal.parse(buffer, digitsStart..<ampersand),
              version > 0 else { return nil }
        return (version, ampersand + 1..<query.upperBound)
    }
}
