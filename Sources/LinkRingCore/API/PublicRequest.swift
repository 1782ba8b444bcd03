// What a client asks for, decided from a parsed request head: the public data API of
// DESIGN.md section 2, the same for the node and the proxy.
//
//   PUT    /?short=S&long=L   → .put        GET/HEAD /S → .get
//   DELETE /S                 → .delete     /_/…        → .operator (never a short name)
//   anything else             → .reject(400 or 405 with the reason)
//
// A path with a second `/` is an operator or internal route, so it can never collide with a
// short name (short names cannot contain `/`). The query of `GET /S?…` is ignored. A PUT's
// long URL must pass the process's `LongURLRules` (its `--allowed-schemes`).

package enum PublicRequest: Sendable, Equatable {
    case get(short: [UInt8], isHead: Bool)
    case put(ShortLong)
    case delete(short: [UInt8])
    /// A `/_/…` route: `path` is the part after `/_/`, `query` the part after `?`.
    case operatorRoute(path: Range<Int>, query: Range<Int>?)
    case reject(HTTPParseFailure)

    static let allowedMethods = "GET, HEAD, PUT, DELETE"

    package static func interpret(_ head: HTTPRequestHead, _ buffer: [UInt8], rules: LongURLRules) -> PublicRequest {
        let target = head.target
        var pathEnd = target.lowerBound
        while pathEnd < target.upperBound, buffer[pathEnd] != ASCII.questionMark { pathEnd += 1 }
        let query: Range<Int>? = pathEnd < target.upperBound ? pathEnd + 1..<target.upperBound : nil
        let path = target.lowerBound + 1..<pathEnd  // after the leading '/'
        if isOperatorPath(buffer, path) {
            return .operatorRoute(path: path.lowerBound + 2..<path.upperBound, query: query)
        }
        switch head.method {
        case .get, .head: return keyRoute(buffer, path) { .get(short: $0, isHead: head.method == .head) }
        case .delete: return keyRoute(buffer, path) { .delete(short: $0) }
        case .put: return putRoute(buffer, path: path, query: query, rules)
        default:
            return .reject(.methodNotAllowed(allow: allowedMethods))
        }
    }

    private static func isOperatorPath(_ buffer: [UInt8], _ path: Range<Int>) -> Bool {
        path.count >= 2 && buffer[path.lowerBound] == 0x5F && buffer[path.lowerBound + 1] == ASCII.slash
    }

    private static func keyRoute(_ buffer: [UInt8], _ path: Range<Int>, _ make: ([UInt8]) -> PublicRequest) -> PublicRequest {
        if path.isEmpty {
            return .reject(HTTPParseFailure(.badRequest, "Name a short link: GET /S, or store one with PUT /?short=S&long=L."))
        }
        switch ShortLongQuery.decodeShort(buffer, path) {
        case .success(let short): return make(short)
        case .failure(let failure): return .reject(failure)
        }
    }

    private static func putRoute(_ buffer: [UInt8], path: Range<Int>, query: Range<Int>?, _ rules: LongURLRules) -> PublicRequest {
        guard path.isEmpty, let query else {
            return .reject(HTTPParseFailure(.badRequest, "Store a short link with PUT /?short=S&long=L."))
        }
        switch ShortLongQuery.parse(buffer, query, rules: rules) {
        case .success(let pair): return .put(pair)
        case .failure(let failure): return .reject(failure)
        }
    }
}
