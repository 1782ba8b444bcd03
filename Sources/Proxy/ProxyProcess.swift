// Start-up and shutdown of `linkring-proxy`.
//
//   parse options (hosts file, ring) ─▶ listen ─▶ print "listening on HOST:PORT" ─▶ sentinel
//   starts pinging ─▶ run the loop
//
// SIGTERM/SIGINT: stop accepting; answers in flight finish (a write waits for its replicas);
// then the node pools and timers close and the process exits 0. A second signal, or the
// shutdown deadline, closes everything at once. The proxy holds no data: losing it loses nothing.

import LinkRingCore
import LinkRingServer
import LinkRingUV

enum ProxyProcess {
    static let shutdownDeadlineMs: UInt64 = 10_000

    static func run(_ arguments: [String]) -> Never {
        ProcessMain.run(name: "linkring-proxy", usage: ProxyOptions.usage,
                        parse: { try ProxyOptions.parse(arguments, readFile: FileSystem.readTextFile) }, serve: serve)
    }

    private static func serve(_ options: ProxyOptions) throws {
        let loop = try EventLoop()
        var logFiles: LogFiles? = nil
        let ring = HashRing(nodes: options.nodes, vnodesPerNode: options.vnodes, replicas: options.replicas)
        let flusher = OutputFlusher(loop: loop)
        let nodes = HostsReloader.clients(for: options.nodes, reusing: [], loop: loop, options: options, flusher: flusher)
        let listener = ListenerBox()
        var random = SystemRandomNumberGenerator()
        let origin = options.proxyID ?? HybridClock.randomOrigin(using: &random)
        let service = ProxyService(ring: ring, nodes: nodes, options: options, origin: origin)
        let server = HTTPServer(loop: loop, limits: options.limits, handler: service)
        let bound = try server.start(host: options.listen.host, port: options.listen.port)
        let address = HostPort(host: bound.host, port: bound.port).description
        listener.server = server
        service.operatorRoutes = OperatorRoutes(service: service, loop: loop, listenAddress: address) { [weak listener] in listener?.server }
        let sentinel = Sentinel(loop: loop, nodes: nodes, options: options)
        sentinel.start()
        let reloader = HostsReloader(loop: loop, options: options, flusher: flusher, service: service, sentinel: sentinel)
        logFiles = try LogFiles(loop: loop, options: options.logging) { reloader.reload() }
        server.accessLog = logFiles?.accessLog
        let shutdown = GracefulShutdown(loop: loop, server: server, deadlineMs: shutdownDeadlineMs) { done in
            sentinel.close()
            for node in service.nodes { node.closeAll() }
            flusher.close()
            logFiles?.close()
            done()
        }
        try shutdown.watchSignals()
        Log.info("proxy \(address): \(nodes.count) nodes from \(options.hostsPath), \(options.replicas) replicas, "
                 + "\(options.vnodes) vnodes per node, \(ring.rangeCount) key ranges, version origin \(origin)"
                 + (options.proxyID == nil ? " (random; --proxy-id sets one)" : ""))
        Output.printLine("listening on \(address)")
        loop.run()
        service.operatorRoutes = nil
        service.reload(ring: ring, nodes: [])
        sentinel.adopt([])
        if !loop.close() { Log.warning("event loop closed with handles still open") }
        Log.info("proxy \(address) stopped")
    }
}

/// Lets the operator routes reach the server without a reference cycle.
final class ListenerBox {
    var server: HTTPServer?
}
