// The pages a person sees: the home page with its form, the page of a link just made, and the
// form again with what was wrong. They work without JavaScript; a few lines of inline script
// only add a copy button and keep the write token in the browser (localStorage), so it is
// asked for once. The home page is built once at start-up (its bytes are served as they are);
// the other two depend on the request and are built per create, which is not the hot path.
//
//   GET /  ─▶ home(asksForToken)            POST / ─▶ created(url, long)   201 + Location
//                                                   └▶ form(fields, error)  400 / 401 / 412 / 413 / 503

package enum FormPages {
    /// The home page, without an error: built once by each process.
    package static func home(asksForToken: Bool) -> [UInt8] {
        form(LinkForm(), error: nil, asksForToken: asksForToken)
    }

    /// The form, refilled with `fields` (never the token: the browser keeps that), with `error`
    /// said in words above it when there is one.
    package static func form(_ fields: LinkForm, error: HTTPParseFailure?, asksForToken: Bool) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(Pages.style.utf8CodeUnitCount + 3000)
        Pages.appendHead(error == nil ? "Shorten a link" : "The link was not made", to: &body)
        if let error {
            body.append("<p class=\"err\" id=\"error\">")
            Pages.appendEscaped(error.reason, to: &body)
            if let offending = error.offending {
                body.append(" You sent: <code>")
                HTML.appendEscaped(offending, to: &body)
                body.append("</code>.")
            }
            body.append("</p>")
        } else {
            body.append("<p>Paste a long URL and get a short one. Choose the name yourself, or leave it empty for a new random one.</p>")
        }
        body.append("<form method=\"post\" action=\"/\"><label for=\"long\">Long URL</label>")
        body.append("<input id=\"long\" name=\"long\" type=\"url\" required maxlength=\"4096\" placeholder=\"https://example.com/a/long/path\" value=\"")
        HTML.appendEscaped(fields.long, to: &body)
        body.append("\"><label for=\"short\">Short name <span class=\"hint\">(optional: letters, digits, - _ . ~)</span></label>")
        body.append("<input id=\"short\" name=\"short\" maxlength=\"128\" pattern=\"[A-Za-z0-9._~\\-]*\" autocapitalize=\"off\" placeholder=\"random\" value=\"")
        HTML.appendEscaped(fields.short, to: &body)
        body.append("\">")
        if asksForToken {
            body.append("<label for=\"token\">Write token <span class=\"hint\">(kept in this browser once given)</span></label>")
            body.append("<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\">")
        }
        body.append("<button type=\"submit\" id=\"shorten\">Shorten</button></form>")
        body.append("<p class=\"next\">A name that is taken is never overwritten: the form says so and keeps what you typed. ")
        body.append("Short links work for everyone; following one is an ordinary redirect.</p>")
        if asksForToken { body.append(tokenScript) }
        Pages.appendEnd(to: &body)
        return body
    }

    /// Fills the token field from the browser's storage, and stores what was typed on submit.
    private static let tokenScript: StaticString = """
        <script>(function(){var t=document.getElementById("token");if(!t)return;\
        try{t.value=localStorage.getItem("linkring-write-token")||""}catch(e){}\
        t.form.addEventListener("submit",function(){try{localStorage.setItem("linkring-write-token",t.value)}catch(e){}})})()</script>
        """

    /// The page of a link just made: the short URL as a link with a copy button, and where it leads.
    package static func created(shortURL: [UInt8], long: [UInt8]) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(Pages.style.utf8CodeUnitCount + 1500 + 3 * shortURL.count + 2 * long.count)
        Pages.appendHead("Your short link is ready", to: &body)
        body.append("<div class=\"ok row\"><input id=\"url\" readonly value=\"")
        HTML.appendEscaped(shortURL, to: &body)
        body.append("\" aria-label=\"short URL\"><button type=\"button\" id=\"copy\">Copy</button></div>")
        body.append("<p>Open <a id=\"short\" href=\"")
        HTML.appendEscaped(shortURL, to: &body)
        body.append("\">")
        HTML.appendEscaped(shortURL, to: &body)
        body.append("</a> and you arrive at <a id=\"long\" href=\"")
        HTML.appendEscaped(long, to: &body)
        body.append("\">")
        HTML.appendEscaped(long, to: &body)
        body.append("</a>.</p><p class=\"next\">Share the short URL, or <a href=\"/\">shorten another link</a>.</p>")
        body.append(copyScript)
        Pages.appendEnd(to: &body)
        return body
    }

    /// The copy button: the clipboard API where the page is a secure context, else selecting the field.
    private static let copyScript: StaticString = """
        <script>document.getElementById("copy").onclick=function(){var u=document.getElementById("url"),b=this;\
        function done(){b.textContent="Copied"}u.select();\
        if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(u.value).then(done,function(){document.execCommand("copy");done()})}\
        else{document.execCommand("copy");done()}}</script>
        """

    /// `{"short":…,"url":…,"long":…}` for a client that sent `Accept: application/json`.
    package static func createdJSON(short: [UInt8], shortURL: [UInt8], long: [UInt8]) -> [UInt8] {
        let text = "{\"short\":\(json(short)),\"url\":\(json(shortURL)),\"long\":\(json(long))}\n"
        return Array(text.utf8)
    }

    /// `{"error":…,"status":N}` for a JSON client whose create failed.
    package static func failureJSON(_ failure: HTTPParseFailure) -> [UInt8] {
        Array("{\"error\":\(JSONText.string(failure.reason)),\"status\":\(failure.status.rawValue)}\n".utf8)
    }

    private static func json(_ bytes: [UInt8]) -> String { JSONText.string(String(decoding: bytes, as: UTF8.self)) }
}
