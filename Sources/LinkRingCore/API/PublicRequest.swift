// What a client asks for, decided from a parsed request head: the public data API of
// DESIGN.md section 2, the same for the node and the proxy.
//
//   PUT    /?short=S&long=L   → .put        GET/HEAD /S → .get
//   DELETE /S                 → .delete     /_/…        → .operator (never a short name)
//   GET/HEAD /                → .home       GET/HEAD /favicon.ico, /robots.txt → .fixed
//   PUT /?short=S&long=L with If-None-Match: *, PUT /?long=L (no short: a generated name),
//   POST / (the home page's form)            → .create (never replaces a live link)
//   POST / with a form that is wrong         → .formRejected (the form page again, refilled)
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
    case home(isHead: Bool)
    case fixed(FixedResource, isHead: Bool)
    case create(CreateRequest)
    case formRejected(LinkForm, HTTPParseFailure)

    static let allowedMethods = "GET, HEAD, PUT, DELETE"
    static let allowedMethodsOfHome = "GET, HEAD, PUT, POST"

    package static func interpret(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int> = 0..<0,
                                  rules: LongURLRules) -> PublicRequest {
        let target = head.target
        var pathEnd = target.lowerBound
        while pathEnd < target.upperBound, buffer[pathEnd] != ASCII.questionMark { pathEnd += 1 }
        let query: Range<Int>? = pathEnd < target.upperBound ? pathEnd + 1..<target.upperBound : nil
        let path = target.lowerBound + 1..<pathEnd  // after the leading '/'
        if isOperatorPath(buffer, path) {
            return .operatorRoute(path: path.lowerBound + 2..<path.upperBound, query: query)
        }
        switch head.method {
        case .get, .head:
            let isHead = head.method == .head
            if path.isEmpty { return .home(isHead: isHead) }
            if let resource = FixedResource(buffer, path) { return .fixed(resource, isHead: isHead) }
            return keyRoute(buffer, path) { .get(short: $0, isHead: isHead) }
        case .delete: return keyRoute(buffer, path) { .delete(short: $0) }
        case .put: return putRoute(buffer, path: path, query: query, rules, isCreateOnly: AnswerFormat.isCreateOnly(head, buffer))
        case .post where path.isEmpty: return formRoute(head, buffer, body: body, rules)
        default:
            return .reject(.methodNotAllowed(allow: path.isEmpty ? allowedMethodsOfHome : allowedMethods))
        }
    }

    private static let formType: [UInt8] = Array("application/x-www-form-urlencoded".utf8)

    private static func formRoute(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, _ rules: LongURLRules) -> PublicRequest {
        if let type = head.contentType,
           !(type.count >= formType.count && ASCII.equalsIgnoringCase(buffer, type.lowerBound..<type.lowerBound + formType.count, formType)) {
            return .formRejected(LinkForm(), HTTPParseFailure(.badRequest, "The form must be sent as application/x-www-form-urlencoded."))
        }
        guard body.count <= Limits.formBodyBytesMax else {
            return .formRejected(LinkForm(), HTTPParseFailure(.payloadTooLarge, "The form is larger than \(Limits.formBodyBytesMax) bytes."))
        }
        guard let form = LinkForm.decode(buffer, body) else {
            return .formRejected(LinkForm(), HTTPParseFailure(.badRequest, "The form has an invalid percent-escape."))
        }
        switch form.request(rules: rules) {
        case .success(let request): return .create(request)
        case .failure(let failure): return .formRejected(form, failure)
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

    private static func putRoute(_ buffer: [UInt8], path: Range<Int>, query: Range<Int>?, _ rules: LongURLRules,
                                 isCreateOnly: Bool) -> PublicRequest {
        guard path.isEmpty, let query else {
            return .reject(HTTPParseFailure(.badRequest, "Store a short link with PUT /?short=S&long=L."))
        }
        if let long = ShortLongQuery.longWithoutShort(buffer, query) {
            switch ShortLongQuery.readLong(buffer, long, rules) {
            case .success(let long): return .create(CreateRequest(short: nil, long: long))
            case .failure(let failure): return .reject(failure)
            }
        }
        switch ShortLongQuery.parse(buffer, query, rules: rules) {
        case .success(let pair): return isCreateOnly ? .create(CreateRequest(short: pair.short, long: pair.long)) : .put(pair)
        case .failure(let failure): return .reject(failure)
        }
    }
}

/// The two fixed files browsers and crawlers ask for. Their names are reserved: no link can be
/// stored under them (KeyValidation), since a GET of them never reaches a link.
package enum FixedResource: Sendable, Equatable {
    case favicon
    case robots

    static let faviconName: [UInt8] = Array("favicon.ico".utf8)
    static let robotsName: [UInt8] = Array("robots.txt".utf8)

    init?(_ buffer: [UInt8], _ path: Range<Int>) {
        if path.count == Self.faviconName.count, ASCII.equals(buffer, path, Self.faviconName) { self = .favicon }
        else if path.count == Self.robotsName.count, ASCII.equals(buffer, path, Self.robotsName) { self = .robots }
        else { return nil }
    }

    /// `robots.txt`: crawl the home page, not the links (each would cost a lookup and lead
    /// elsewhere) and not the operator pages.
    package static let robotsText: [UInt8] = Array("User-agent: *\nAllow: /$\nDisallow: /\n".utf8)
}
