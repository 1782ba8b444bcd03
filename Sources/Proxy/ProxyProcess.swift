// Start-up and shutdown of `linkring-proxy`.
//
//   parse options (hosts file, ring) ─▶ ProxyServer (owns everything, ProxyServer.swift) ─▶
//   the hosts file's names looked up, aliases refused (exit 1) ─▶ listen (and on the admin
//   address: print "admin address HOST:PORT") ─▶ print "listening on HOST:PORT" ─▶ sentinel
//   starts pinging ─▶ run the loop
//
// SIGTERM/SIGINT: stop accepting; answers in flight finish (a write waits for its replicas);
// then the node pools and timers close and the process exits 0. A second signal, or the
// shutdown deadline, closes everything at once. The proxy holds no data: losing it loses nothing.

import LinkRingCore
import LinkRingServer
import LinkRingUV

enum ProxyProcess {
    static func run(_ arguments: [String]) -> Never {
        ProcessMain.run(name: "linkring-proxy", usage: ProxyOptions.usage,
                        parse: { try ProxyOptions.parse(arguments, readFile: FileSystem.readTextFile) }, serve: serve)
    }

    private static func serve(_ options: ProxyOptions) throws {
        let loop = try EventLoop()
        var random = SystemRandomNumberGenerator()
        let origin = options.proxyID ?? HybridClock.randomOrigin(using: &random)
        let proxy = ProxyServer(loop: loop, options: options, origin: origin)
        try proxy.checkHostsNames()
        let (address, admin) = try proxy.start()
        if let admin { Output.printLine("admin address \(admin)") }
        Output.printLine("listening on \(address)")
        // The loop's callbacks reach the proxy's parts unowned: it must outlive the loop.
        let isClean = withExtendedLifetime(proxy) {
            loop.run()
            return loop.close()
        }
        if !isClean { Log.warning("event loop closed with handles still open") }
        Log.info("proxy \(address) stopped")
        if proxy.lookupsLeftRunning > 0 { ProcessSetup.exitSkippingHandlers(0) }
    }
}
