// The HTML pages of the public API. Whatever a page shows from the request is HTML-escaped;
// nothing from the request ever reaches a header except a validated long URL, percent-encoded
// where a URI may not hold a byte raw (Response.appendRedirect), and a short URL built from a
// validated name (ShortURL).
//
// Every page has one shape: the shared stylesheet, a title that says what happened, a
// paragraph with the details, and a line that says what to do next. Pages that do not depend
// on the request (the home page, the dashboard, the stylesheet) are built once at start-up.
// The pages made for a person at a browser (the home page, the form's answers, the dashboard)
// carry the stylesheet inline (`Pages.style`, about 2 KB); the answers of the API (the 307
// body, "Recorded", "Deleted", 404, 503, a refused request) link to the same bytes at
// /_/style.css, cached for a day, so a PUT's answer is about 560 bytes rather than 2.4 KB
// (docs/DECISIONS.md "Pages for people").

package enum Pages {
    /// The answer to every PUT (through the proxy and from a lone node): the page that `page`
    /// would build from its pieces (ResponseTests holds them equal), written straight into one
    /// array, with no pieces to allocate and the two values scanned for escapes once each.
    package static func recorded(_ pair: ShortLong) -> [UInt8] {
        let short = HTML.escapedLength(pair.short), long = HTML.escapedLength(pair.long)
        var body: [UInt8] = []
        body.reserveCapacity(recordedFixedBytes + 3 * short + 2 * long)
        appendHead("Recorded", stylesheet: .linked, to: &body)
        body.append("<p>Recorded <code>")
        HTML.appendEscaped(pair.short, escapedLength: short, to: &body)
        body.append("</code> \u{2192} <a href=\"")
        HTML.appendEscaped(pair.long, escapedLength: long, to: &body)
        body.append("\">")
        HTML.appendEscaped(pair.long, escapedLength: long, to: &body)
        body.append("</a>.</p><p class=\"next\">Follow it at <a href=\"/")
        HTML.appendEscaped(pair.short, escapedLength: short, to: &body)
        body.append("\">/")
        HTML.appendEscaped(pair.short, escapedLength: short, to: &body)
        body.append("</a>, or make another link on the <a href=\"/\">home page</a></p>")
        appendEnd(to: &body)
        return body
    }

    /// The bytes of a "Recorded" page besides its values (a little more, for `reserveCapacity`).
    private static let recordedFixedBytes = 600

    package static func deleted(short: [UInt8]) -> [UInt8] {
        page("Deleted", [text("Deleted "), code(short), text(".")],
             next: [text("The name is free again: make a new link with it on the "), home])
    }

    package static func notFound(short: [UInt8]) -> [UInt8] {
        page("404 Not Found", [text("No long URL is recorded for "), code(short), text(".")],
             next: [text("Check the name (names are case-sensitive), or make a link with it on the "), home])
    }

    /// The 503 page: "could not perform the GET/PUT", with why.
    package static func unavailable(operation: String, detail: String) -> [UInt8] {
        page("503 Service Unavailable", [text("Could not perform the \(operation): \(detail)")],
             next: [text("Nothing was lost: try again in a moment. If it goes on, tell the operator of this service.")])
    }

    /// A refused request: what was wrong, the value that was wrong (escaped) when the failure
    /// names one, and where to go instead.
    package static func failure(_ failure: HTTPParseFailure) -> [UInt8] {
        var pieces: [Piece] = [text(failure.reason)]
        if let offending = failure.offending { pieces += [text(" You sent: "), code(offending), text(".")] }
        return page("\(failure.status.rawValue) \(failure.status.reasonPhrase)", pieces, next: nextStep(failure.status))
    }

    private static func nextStep(_ status: HTTPStatus) -> [Piece] {
        switch status {
        case .unauthorized, .forbidden:
            [text("Writes and operator pages need the right credentials; short links themselves stay open. Back to the "), home]
        case .methodNotAllowed:
            [text("Links are made with the form on the "), home, text(" or with PUT /?short=S&long=L; followed with GET /S.")]
        default:
            [text("Make a link with the form on the "), home, text(", or fix the request and send it again.")]
        }
    }

    /// Pieces of a paragraph; each is escaped as it is appended.
    package enum Piece {
        case text(String)
        case code([UInt8])
        case link([UInt8])
        /// A link whose text differs from its target.
        case namedLink(href: [UInt8], text: String)
    }

    private static func text(_ value: String) -> Piece { .text(value) }
    private static func code(_ value: [UInt8]) -> Piece { .code(value) }
    private static func link(_ value: [UInt8]) -> Piece { .link(value) }
    private static let home = Piece.namedLink(href: Array("/".utf8), text: "home page")

    /// The page, built with one growing array: constant markup comes from the binary and
    /// text is escaped from its UTF-8 view, so a PUT's page costs no String conversions.
    package static func page(_ title: String, _ pieces: [Piece], next: [Piece] = []) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(640)
        appendHead(title, stylesheet: .linked, to: &body)
        body.append("<p>")
        appendPieces(pieces, to: &body)
        body.append("</p>")
        if !next.isEmpty {
            body.append("<p class=\"next\">")
            appendPieces(next, to: &body)
            body.append("</p>")
        }
        appendEnd(to: &body)
        return body
    }

    /// Where a page's stylesheet comes from: inline, or a link to /_/style.css.
    package enum Stylesheet {
        case inline
        case linked
    }

    /// `<!DOCTYPE html>` to the opening `<main>` and the `<h1>` title.
    package static func appendHead(_ title: String, mainClass: StaticString = "", stylesheet: Stylesheet = .inline,
                                   to body: inout [UInt8]) {
        body.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        body.append("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>")
        appendEscaped(title, to: &body)
        switch stylesheet {
        case .inline:
            body.append("</title><style>")
            body.append(style)
            body.append("</style>")
        case .linked:
            body.append("</title><link rel=\"stylesheet\" href=\"/_/style.css\">")
        }
        body.append("</head><body><main class=\"")
        body.append(mainClass)
        body.append("\"><h1>")
        appendEscaped(title, to: &body)
        body.append("</h1>")
    }

    package static func appendEnd(to body: inout [UInt8]) {
        body.append("</main></body></html>\n")
    }

    package static func appendPieces(_ pieces: [Piece], to body: inout [UInt8]) {
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
            case .namedLink(let href, let text):
                body.append("<a href=\"")
                HTML.appendEscaped(href, to: &body)
                body.append("\">")
                appendEscaped(text, to: &body)
                body.append("</a>")
            }
        }
    }

    package static func appendEscaped(_ text: String, to body: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes in
            // Most text (every page's own sentences) has nothing to escape: copied whole.
            guard bytes.contains(where: HTML.needsEscape) else { return body.append(contentsOf: bytes) }
            for byte in bytes { HTML.appendEscaped(byte, to: &body) }
        }
    }

    /// The one stylesheet of every page: readable on a phone (the viewport meta, a column at
    /// most 40rem wide, inputs the full width), light and dark. About 2 KB.
    package static let style: StaticString = """
        :root{color-scheme:light dark;--a:#1d4ed8}\
        body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:1rem;background:#f4f5f7;color:#1f2328}\
        main{max-width:40rem;margin:1.5rem auto;background:#fff;padding:1.25rem 1.5rem;border-radius:.75rem;box-shadow:0 1px 4px #0002}\
        main.wide{max-width:72rem}\
        h1{font-size:1.45rem;margin:0 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}\
        a{color:var(--a);overflow-wrap:anywhere}code{background:#eef1f6;padding:0 .25rem;border-radius:.25rem;overflow-wrap:anywhere}\
        label{display:block;margin:.9rem 0 .3rem;font-weight:600}\
        input{width:100%;box-sizing:border-box;font:inherit;padding:.6rem .7rem;border:1px solid #b8bec8;border-radius:.45rem}\
        button{font:inherit;font-weight:600;padding:.6rem 1.3rem;margin-top:1.1rem;border:0;border-radius:.45rem;background:var(--a);color:#fff;cursor:pointer}\
        .row{display:flex;gap:.5rem;align-items:center}.row input{flex:1}.row button{margin-top:0}\
        .err{background:#fdecec;border:1px solid #f2a7a7;padding:.6rem .8rem;border-radius:.45rem}\
        .ok{background:#e9f7ee;border:1px solid #9fd5b0;padding:.6rem .8rem;border-radius:.45rem}\
        .next,.hint{color:#59606b;font-size:.92rem}.hint{font-weight:400}\
        table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #dde1e6}\
        td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.up{color:#137333}.down,.refused{color:#b3261e}.unknown{color:#8a6d00}\
        .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.6rem}\
        .card{background:#f4f5f7;border-radius:.5rem;padding:.5rem .7rem}.card b{display:block;font-size:1.25rem}\
        @media(prefers-color-scheme:dark){body{background:#101113;color:#dde1e6}main{background:#1b1c1f;box-shadow:none}\
        input{background:#25272b;color:#dde1e6;border-color:#454952}code,.card{background:#25272b}a{color:#8ab4f8}\
        .err{background:#3a1d1d;border-color:#7a3434}.ok{background:#1c3324;border-color:#2f6b43}.next,.hint{color:#9aa0a6}\
        th,td{border-color:#34373c}}
        """
}
