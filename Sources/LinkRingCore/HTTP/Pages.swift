// The small HTML pages of the public API. Whatever a page shows from the request is
// HTML-escaped; nothing from the request ever reaches a header except a validated long URL,
// percent-encoded where a URI may not hold a byte raw (Response.appendRedirect).

package enum Pages {
    package static func recorded(_ pair: ShortLong) -> [UInt8] {
        page("Recorded", [text("Recorded "), code(pair.short), text(" \u{2192} "), link(pair.long), text(".")])
    }

    package static func deleted(short: [UInt8]) -> [UInt8] {
        page("Deleted", [text("Deleted "), code(short), text(".")])
    }

    package static func notFound(short: [UInt8]) -> [UInt8] {
        page("404 Not Found", [text("No long URL is recorded for "), code(short), text(".")])
    }

    /// The 503 page: "could not perform the GET/PUT", with why.
    package static func unavailable(operation: String, detail: String) -> [UInt8] {
        page("503 Service Unavailable", [text("Could not perform the \(operation): \(detail)")])
    }

    package static func failure(_ failure: HTTPParseFailure) -> [UInt8] {
        page("\(failure.status.rawValue) \(failure.status.reasonPhrase)", [text(failure.reason)])
    }

    /// Pieces of a paragraph; each is escaped as it is appended.
    package enum Piece {
        case text(String)
        case code([UInt8])
        case link([UInt8])
    }

    private static func text(_ value: String) -> Piece { .text(value) }
    private static func code(_ value: [UInt8]) -> Piece { .code(value) }
    private static func link(_ value: [UInt8]) -> Piece { .link(value) }

    /// The page, built with one growing array: constant markup comes from the binary and
    /// text is escaped from its UTF-8 view, so a PUT's page costs no String conversions.
    package static func page(_ title: String, _ pieces: [Piece]) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(320)
        body.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>")
        appendEscaped(title, to: &body)
        body.append("</title></head><body><h1>")
        appendEscaped(title, to: &body)
        body.append("</h1><p>")
        for piece in pieces {
            switch piece {
            case .text(let value):
                appendEscaped(value, to: &body)
            case .code(let value):
                body.append("<code>")
                HTML.appendEscaped(value, to: &body)
                body.append("</code>")
            case .link(let value):
                body.append("<a href=\"")
                HTML.appendEscaped(value, to: &body)
                body.append("\">")
                HTML.appendEscaped(value, to: &body)
                body.append("</a>")
            }
        }
        body.append("</p></body></html>\n")
        return body
    }

    private static func appendEscaped(_ text: String, to body: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes in
            for byte in bytes { HTML.appendEscaped(byte, to: &body) }
        }
    }
}
