// The handler of the node's admin listener (--admin-listen): the full /_/health, and nothing
// else. Data routes and the cluster routes (/_/kv, repair) stay on the node's own port, where
// the proxy and the peers find them; this listener exists so that an operator (a monitoring
// host, say) can read every counter without the node port answering them to everyone.
//
//   GET/HEAD /_/health ─▶ NodeService.answerHealth (in full: the admin listener's connections
//                         pass the operator check, OperatorAccess.swift)
//   anything else      ─▶ 404 naming what this address serves

import LinkRingCore
import LinkRingServer

final class NodeAdminRoutes: HTTPRequestHandler {
    private let router: NodeService

    init(router: NodeService) { self.router = router }

    func handle(_ head: HTTPRequestHead, _ buffer: [UInt8], body: Range<Int>, on connection: HTTPConnection) {
        guard case .operatorRoute(let path, _) = PublicRequest.interpret(head, buffer, rules: .standard),
              ASCII.equals(buffer, path, NodeService.healthPath) else {
            return connection.respondFailure(Self.notOnAdminListener)
        }
        router.answerHealth(head, on: connection)
    }

    private static let notOnAdminListener = HTTPParseFailure(.notFound,
        "This is the node's admin address: it serves GET /_/health with every counter. Data and cluster routes are on the node's port.")
}
