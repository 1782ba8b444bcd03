// How both executables answer a create-only write (the form, `PUT` with `If-None-Match: *`,
// `PUT /?long=L`): one place, so a lone node and the proxy say the same thing.
//
//   created ─▶ 201, Location: the short URL; JSON {"short","url","long"} when Accept asks for
//              it, else the page with the link and a copy button (FormPages.created)
//   refused ─▶ the failure's status (400, 401 + WWW-Authenticate, 412, 413, 503): JSON
//              {"error","status"}, or the form refilled with the problem in words (a request
//              from the form), or the usual failure page (the API)

import LinkRingCore

/// What a create's answer depends on besides its outcome, read from its request.
package struct CreateAnswerStyle: Sendable {
    package var wantsJSON: Bool
    /// What the short URL starts with (ShortURL.base).
    package var base: [UInt8]
    /// The form to show again on a failure, nil for the API.
    package var form: LinkForm?
    /// The form has a token field (a proxy with --write-token).
    package var asksForToken: Bool

    package init(wantsJSON: Bool, base: [UInt8], form: LinkForm?, asksForToken: Bool) {
        self.wantsJSON = wantsJSON
        self.base = base
        self.form = form
        self.asksForToken = asksForToken
    }

    package init(_ head: HTTPRequestHead, _ buffer: [UInt8], _ request: CreateRequest?, publicURL: [UInt8]?, listenAddress: String,
                 asksForToken: Bool) {
        self.init(wantsJSON: AnswerFormat.wantsJSON(head, buffer),
                  base: ShortURL.base(configured: publicURL, head, buffer, listenAddress: listenAddress),
                  form: request?.form, asksForToken: asksForToken)
    }
}

package enum CreateFailures {
    /// The 412 of a name that holds a live link.
    package static func taken(_ name: [UInt8]) -> HTTPParseFailure {
        HTTPParseFailure(.preconditionFailed, "That short name is taken: it already leads somewhere else. "
            + "Choose another name, or leave it empty for a new random one.", offending: name)
    }

    /// Every generated name tried was taken (only with a store nearly full of 7-character names).
    package static let noFreeName = HTTPParseFailure(.serviceUnavailable,
        "No free short name was found in \(Limits.generatedNameAttemptsMax) tries; try again, or choose a name.")
}

extension Responder {
    package func respondCreated(name: [UInt8], long: [UInt8], _ style: CreateAnswerStyle) {
        let url = ShortURL.make(base: style.base, name: name)
        let location = Array("Location: ".utf8) + url
        if style.wantsJSON {
            respond(.created, contentType: ContentType.json, body: FormPages.createdJSON(short: name, shortURL: url, long: long),
                    extraHeaders: [location])
        } else {
            respond(.created, body: FormPages.created(shortURL: url, long: long), extraHeaders: [location])
        }
    }

    package func respondCreateFailure(_ failure: HTTPParseFailure, _ style: CreateAnswerStyle) {
        let challenge: [[UInt8]] = failure.status == .unauthorized ? [WriteTokenGate.challenge] : []
        if style.wantsJSON {
            respond(failure.status, contentType: ContentType.json, body: FormPages.failureJSON(failure), extraHeaders: challenge)
        } else if let form = style.form {
            respond(failure.status, body: FormPages.form(form, error: failure, asksForToken: style.asksForToken), extraHeaders: challenge)
        } else {
            respond(failure.status, body: Pages.failure(failure), extraHeaders: challenge)
        }
    }
}
