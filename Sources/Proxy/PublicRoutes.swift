// The proxy's routes for people and their browsers, beside the data API the router serves:
//
//   GET/HEAD /                      ─▶ the home page, built once at start-up
//   GET/HEAD /favicon.ico, robots.txt ─▶ fixed answers
//   POST / (form), PUT + If-None-Match: *, PUT /?long=L  ─▶ write token? ─▶ CreateWriter ─▶
//                                      201 + Location (page or JSON) | 412 | 400 | 401 | 503
//   PUT, DELETE (the API)           ─▶ `admitsWrite` first, when --write-token is set
//
// With --write-token every write needs `Authorization: Bearer TOKEN`, or (from the form, which
// works without JavaScript) the token field; 401 with `WWW-Authenticate` otherwise, nothing
// written. Redirects, the home page and /_/health stay open.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class PublicRoutes {
    private let writer: CreateWriter
    private let metrics: ProxyMetrics
    private let writeGate: WriteTokenGate?
    private let publicURL: [UInt8]?
    private let homePage: [UInt8]

    init(writer: CreateWriter, metrics: ProxyMetrics, options: ProxyOptions) {
        self.writer = writer
        self.metrics = metrics
        writeGate = options.writeToken.map { WriteTokenGate(token: $0) }
        publicURL = options.publicURL
        homePage = FormPages.home(asksForToken: options.writeToken != nil)
    }

    /// True when a PUT or DELETE of the API may go on; else it was answered 401.
    func admitsWrite(_ head: HTTPRequestHead, _ buffer: [UInt8], on connection: HTTPConnection, _ timer: RequestTimer) -> Bool {
        guard let writeGate, !writeGate.admits(head, buffer) else { return true }
        connection.respond(.unauthorized, body: Pages.failure(WriteTokenGate.refusal), extraHeaders: [WriteTokenGate.challenge])
        metrics.finish(timer, status: 401)
        return false
    }

    func answer(_ request: PublicRequest, _ head: HTTPRequestHead, _ buffer: [UInt8], listenAddress: String,
                on connection: HTTPConnection, _ timer: RequestTimer) {
        switch request {
        case .home:
            connection.respond(.ok, body: homePage)
            metrics.finish(timer, status: 200)
        case .fixed(let resource, _):
            connection.respondFixed(resource)
            metrics.finish(timer, status: resource == .favicon ? 204 : 200)
        case .create(let create):
            let style = self.style(head, buffer, create.form, listenAddress)
            guard admitsCreate(head, buffer, create) else {
                connection.respondCreateFailure(WriteTokenGate.refusal, style)
                return metrics.finish(timer, status: 401)
            }
            let answer = connection.deferResponse()
            writer.create(create) { [metrics] outcome in
                switch outcome {
                case .created(let name):
                    answer.respondCreated(name: name, long: create.long, style)
                    metrics.finish(timer, status: 201)
                case .refused(let failure):
                    answer.respondCreateFailure(failure, style)
                    metrics.finish(timer, status: failure.status.rawValue)
                }
            }
        case .formRejected(let form, let failure):
            connection.respondCreateFailure(failure, style(head, buffer, form, listenAddress))
            metrics.finish(timer, status: failure.status.rawValue)
        default:
            connection.respondFailure(HTTPParseFailure(.badRequest, "Not a page."))
            metrics.finish(timer, status: 400)
        }
    }

    private func admitsCreate(_ head: HTTPRequestHead, _ buffer: [UInt8], _ create: CreateRequest) -> Bool {
        guard let writeGate else { return true }
        if let form = create.form, writeGate.admits(formToken: form.token) { return true }
        return writeGate.admits(head, buffer)
    }

    private func style(_ head: HTTPRequestHead, _ buffer: [UInt8], _ form: LinkForm?, _ listenAddress: String) -> CreateAnswerStyle {
        CreateAnswerStyle(wantsJSON: AnswerFormat.wantsJSON(head, buffer),
                          base: ShortURL.base(configured: publicURL, head, buffer, listenAddress: listenAddress),
                          form: form, asksForToken: writeGate != nil)
    }
}
