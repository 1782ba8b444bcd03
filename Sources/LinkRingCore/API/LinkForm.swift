// The home page's form and the create-only requests it and the API make.
//
//   POST /   Content-Type: application/x-www-form-urlencoded   long=L&short=S&token=T
//
// Fields are form-decoded (`%XX` is the byte, `+` a space) and trimmed of surrounding spaces
// (a pasted URL often ends in one); unknown fields are ignored; a repeated field keeps its
// last value. The body may hold at most `Limits.formBodyBytesMax` bytes (413 past it). The long
// URL then passes the process's `LongURLRules`, a non-empty short name `KeyValidation`; an empty
// short name asks for a generated one. Whatever is wrong comes back on the form page, refilled
// (FormPages.swift), never as a bare error.

package struct LinkForm: Sendable, Equatable {
    package var long: [UInt8] = []
    package var short: [UInt8] = []
    /// The write token, from the form's token field (a proxy with --write-token).
    package var token: [UInt8] = []

    package init(long: [UInt8] = [], short: [UInt8] = [], token: [UInt8] = []) {
        self.long = long
        self.short = short
        self.token = token
    }

    private static let longName: [UInt8] = Array("long".utf8)
    private static let shortName: [UInt8] = Array("short".utf8)
    private static let tokenName: [UInt8] = Array("token".utf8)

    /// The fields of a urlencoded body; nil when a value has a malformed `%` escape.
    package static func decode(_ buffer: [UInt8], _ body: Range<Int>) -> LinkForm? {
        var form = LinkForm()
        var start = body.lowerBound
        while start < body.upperBound {
            var end = start
            while end < body.upperBound, buffer[end] != ASCII.ampersand { end += 1 }
            var equals = start
            while equals < end, buffer[equals] != ASCII.equals { equals += 1 }
            if equals < end {
                guard let value = PercentDecoding.decode(buffer, equals + 1..<end, plusIsSpace: true) else { return nil }
                let name = start..<equals
                if ASCII.equals(buffer, name, longName) { form.long = trimmed(value) }
                else if ASCII.equals(buffer, name, shortName) { form.short = trimmed(value) }
                else if ASCII.equals(buffer, name, tokenName) { form.token = trimmed(value) }
            }
            start = end + 1
        }
        return form
    }

    private static func trimmed(_ value: [UInt8]) -> [UInt8] {
        var lower = 0
        var upper = value.count
        while lower < upper, ASCII.isBlank(value[lower]) || value[lower] == ASCII.cr || value[lower] == ASCII.lf { lower += 1 }
        while upper > lower, ASCII.isBlank(value[upper - 1]) || value[upper - 1] == ASCII.cr || value[upper - 1] == ASCII.lf { upper -= 1 }
        return Array(value[lower..<upper])
    }

    /// The create request this form asks for, or what is wrong with it.
    package func request(rules: LongURLRules) -> Result<CreateRequest, HTTPParseFailure> {
        if long.isEmpty { return .failure(HTTPParseFailure(.badRequest, "Paste the long URL to shorten.")) }
        if let problem = rules.problem(long) { return .failure(HTTPParseFailure(.badRequest, problem, offending: long)) }
        if !short.isEmpty, let problem = KeyValidation.problem(short: short) {
            return .failure(HTTPParseFailure(.badRequest, problem, offending: short))
        }
        return .success(CreateRequest(short: short.isEmpty ? nil : short, long: long, form: self))
    }
}

/// A write that must not replace a live link: `PUT` with `If-None-Match: *`, `PUT /?long=L`
/// without a short name, or the form. `short == nil` asks for a generated name.
package struct CreateRequest: Sendable, Equatable {
    package var short: [UInt8]?
    package var long: [UInt8]
    /// The form it came from (to refill on an error), nil for the API.
    package var form: LinkForm?

    package init(short: [UInt8]?, long: [UInt8], form: LinkForm? = nil) {
        self.short = short
        self.long = long
        self.form = form
    }
}

/// How the answer to a create is written: the form page, a small HTML page, or JSON.
package enum AnswerFormat {
    private static let json: [UInt8] = Array("application/json".utf8)

    /// True when `Accept` names `application/json` (anywhere in its list).
    package static func wantsJSON(_ head: HTTPRequestHead, _ buffer: [UInt8]) -> Bool {
        guard let accept = head.accept, accept.count >= json.count else { return false }
        var start = accept.lowerBound
        while start + json.count <= accept.upperBound {
            if ASCII.equalsIgnoringCase(buffer, start..<start + json.count, json) { return true }
            start += 1
        }
        return false
    }

    /// `If-None-Match: *`: write only if no live link has the name.
    package static func isCreateOnly(_ head: HTTPRequestHead, _ buffer: [UInt8]) -> Bool {
        guard let value = head.ifNoneMatch else { return false }
        return value.count == 1 && buffer[value.lowerBound] == 0x2A
    }
}
