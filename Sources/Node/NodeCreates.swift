// A lone node's pages and create-only writes: a node is a complete URL shortener by itself, so
// it serves the home page and its form as the proxy does (without a write token: a node that
// must not be public has a cluster token, and then only the proxy reaches these routes).
//
//   GET /                          ─▶ the home page (built once)
//   GET /favicon.ico, /robots.txt  ─▶ fixed answers
//   POST / (form), PUT /?short&long with If-None-Match: *, PUT /?long=L
//        ─▶ the name (given, or the first generated one that holds no live value) is free,
//           durable or pending (NodeService.liveValue)? ─▶ write it create-only ─▶ 201
//        ─▶ taken ─▶ 412, nothing written
//
// The check and the write happen in one turn of the loop, and the name stays taken in
// `pendingCreates` until the write is durable, so two creates of one name can never both win.

import LinkRingCore
import LinkRingServer

extension NodeService {
    func answerPage(_ request: PublicRequest, _ head: HTTPRequestHead, _ buffer: [UInt8], on connection: HTTPConnection) {
        switch request {
        case .home:
            connection.respond(.ok, body: homePage)
        case .fixed(let resource, _):
            connection.respondFixed(resource)
        case .create(let create):
            createPublic(create, style: style(head, buffer, create.form), on: connection)
        case .formRejected(let form, let failure):
            connection.respondCreateFailure(failure, style(head, buffer, form))
        default:
            connection.respondFailure(HTTPParseFailure(.badRequest, "Not a page."))
        }
    }

    private func style(_ head: HTTPRequestHead, _ buffer: [UInt8], _ form: LinkForm?) -> CreateAnswerStyle {
        CreateAnswerStyle(wantsJSON: AnswerFormat.wantsJSON(head, buffer),
                          base: ShortURL.base(configured: nil, head, buffer, listenAddress: "localhost"), form: form, asksForToken: false)
    }

    private func createPublic(_ request: CreateRequest, style: CreateAnswerStyle, on connection: HTTPConnection) {
        var generator = SystemRandomNumberGenerator()
        guard let name = request.short ?? ShortNames.firstUnused(using: &generator, isTaken: { liveValue(of: $0) != nil }) else {
            return connection.respondCreateFailure(CreateFailures.noFreeName, style)
        }
        if liveValue(of: name) != nil { return connection.respondCreateFailure(CreateFailures.taken(name), style) }
        let record = LogRecord(version: store.nextVersion(), op: .put, key: name, value: request.long)
        create(record, on: connection, concurrent: false) { $0.respondCreated(name: name, long: request.long, style) }
    }
}
