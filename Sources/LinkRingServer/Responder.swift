// What a handler answers through: the connection (for the request being handled, now) or a
// `DeferredResponse` slot (later). The page helpers are shared by both.

import LinkRingCore

package protocol Responder: AnyObject {
    /// Writes one whole answer with `write`, given the answer's context (date, keep-alive, HEAD).
    func send(_ status: HTTPStatus, _ write: (inout [UInt8], ResponseContext) -> Void)
}

extension Responder {
    package func respondRedirect(location: [UInt8]) {
        send(.temporaryRedirect) { output, context in Response.appendRedirect(to: &output, location: location, context) }
    }

    package func respond(_ status: HTTPStatus, contentType: [UInt8] = ContentType.html, body: [UInt8], extraHeaders: [[UInt8]] = []) {
        send(status) { output, context in
            Response.append(to: &output, status, contentType: contentType, body: body, extraHeaders: extraHeaders, context)
        }
    }

    /// A node's answer to an internal read: the value (or 404) with its version.
    package func respondVersioned(_ status: HTTPStatus, value: [UInt8], version: UInt64, isRecovering: Bool) {
        send(status) { output, context in
            Response.appendVersioned(to: &output, status, value: value, version: version, isRecovering: isRecovering, context)
        }
    }

    /// A node's answer to an internal write, as the internal protocol's codec spells it.
    package func respond(_ answer: WriteAnswer) {
        send(answer.status) { output, context in
            Response.appendInternal(to: &output, answer.status, body: answer.body, extraHeaders: answer.extraHeaders, context)
        }
    }

    /// The error page of `failure`; a 405 carries its `Allow` header.
    package func respondFailure(_ failure: HTTPParseFailure) {
        let allow: [[UInt8]] = failure.allow.map { [Array("Allow: \($0)".utf8)] } ?? []
        respond(failure.status, body: Pages.failure(failure), extraHeaders: allow)
    }

    /// 405 for a route that takes only the methods in `allow` (e.g. "GET, HEAD").
    package func respondMethodNotAllowed(allow: String) {
        respondFailure(.methodNotAllowed(allow: allow))
    }
}
