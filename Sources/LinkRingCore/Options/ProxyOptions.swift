// The proxy's command line, parsed and checked into a value the proxy is built from. Every
// limit of the node side (pool, pipeline, queue, time-outs) is an option with a safe default.

package struct ProxyOptions: Sendable {
    package var listen = HostPort(host: "127.0.0.1", port: 0)
    package var hostsPath = ""
    /// The hosts file's nodes, with their lines.
    package var hostsEntries: [HostsEntry] = []
    package var nodes: [HostPort] { hostsEntries.map(\.address) }
    /// The hosts file's `generation N` (0 without the line).
    package var generation: UInt64 = 0
    package var membership: Membership { Membership(generation: generation, entries: hostsEntries) }
    package var replicas = Limits.replicasDefault
    package var vnodes = Limits.vnodesDefault
    package var pingIntervalMs = Limits.pingIntervalMsDefault
    /// A ping not answered within this is a miss (a paused process still accepts connections).
    package var pingTimeoutMs = Limits.pingTimeoutMsDefault
    /// Misses or failed requests in a row before a node is down.
    package var failuresToDown = Limits.failuresToDownDefault
    package var silenceToDownMs = Limits.silenceToDownMsDefault
    package var statusIntervalS = Limits.statusIntervalSDefault
    package var clusterToken: [UInt8]? = nil
    /// The origin bits of the versions this proxy mints (random when not given).
    package var proxyID: UInt64? = nil
    /// How far ahead of cluster time (the nodes' clocks, ClusterClock) a version seen in a node's answer may be.
    package var skew = VersionSkew()
    package var connectTimeoutMs = Limits.connectTimeoutMsDefault
    /// A node request not answered within this fails (and a GET goes to the next replica).
    package var nodeTimeoutMs = Limits.nodeTimeoutMsDefault
    /// Keep-alive connections per node.
    package var poolSize = Limits.poolSizeDefault
    /// Requests in flight on one node connection.
    package var pipelineDepth = Limits.pipelineDepthDefault
    /// Requests waiting for a node connection; past it a request fails over or gets 503.
    package var queueMax = Limits.queueMaxDefault
    /// Command run (with HOST and PORT appended) to restart a node down longer than `restartAfterMs`.
    package var restartCommand: String? = nil
    package var restartAfterMs = Limits.restartAfterMsDefault
    /// A restart command still running after this is killed (with its process group).
    package var restartTimeoutMs = Limits.restartTimeoutMsDefault
    /// What a long URL must be to be stored (`--allowed-schemes`).
    package var urlRules = LongURLRules.standard
    package var limits = ServerLimits()
    package var logging = LoggingOptions()
    /// Where /_/status and /_/metrics are served (--admin-listen, --admin-on-public).
    package var admin = AdminOptions()
    /// `--write-token`: what PUT, DELETE and POST must carry (WriteTokenGate); nil: writes are open.
    package var writeToken: [UInt8]? = nil
    /// `--public-url`: what short URLs start with (ShortURL); nil: http:// and the request's Host.
    package var publicURL: [UInt8]? = nil

    package init() {}

    static let specs: [OptionSpec] = [
        .value("listen", "HOST:PORT", "address to serve clients on (port 0 picks a free port)"),
        .value("hosts", "FILE", "the cluster's hosts file: one host:port per line, # comments"),
        .value("replicas", "N", "copies of every key (default 2)"),
        .value("vnodes", "N", "virtual nodes per node on the hash ring (default 64)"),
        .value("ping-interval-ms", "MS", "health ping period (default 250)"),
        .value("ping-timeout-ms", "MS", "a ping not answered within this is missed (default 1000)"),
        .value("down-after", "N", "missed pings or failed requests in a row before a node is down (default 3)"),
        .value("silence-to-down-ms", "MS", "a node silent this long while requests wait is down at once (default 1000)"),
        .value("status-interval-s", "S", "log the node table every S seconds; 0 = only on changes (default 30)"),
        .value("proxy-id", "N", "0-1023, the origin bits of its versions (default: random at start-up)"),
        .value("clock-skew-ms", "MS", "refuse node versions this far ahead of the nodes' time; a node's clock this far off is left out of it (default 1000)"),
        .value("connect-timeout-ms", "MS", "node connect time-out (default 1000)"),
        .value("node-timeout-ms", "MS", "node answer time-out (default 2000)"),
        .value("pool-size", "N", "keep-alive connections per node (default 4)"),
        .value("pipeline-depth", "N", "requests in flight per node connection (default 64)"),
        .value("queue-max", "N", "requests waiting per node before failing over (default 1024)"),
        .value("restart-command", "CMD", "run as CMD HOST PORT for a node down too long (default: none)"),
        .value("restart-after-ms", "MS", "down time before the restart command runs (default 5000)"),
        .value("restart-timeout-ms", "MS", "kill a restart command still running after this (default 60000)"),
        LongURLRules.optionSpec,
    ] + ServerLimits.specs + ClusterToken.specs(purpose: "send X-Cluster-Token: TOKEN on every request to a node") + LoggingOptions.specs
        + AdminOptions.specs(routes: "/_/status and /_/metrics") + WriteTokenGate.specs + ShortURL.specs
        + [.flag("help", "print this help")]

    package static var usage: String {
        CommandLineOptions.usage(synopsis: "linkring-proxy --listen HOST:PORT --hosts FILE [options]", specs: specs)
    }

    /// Nil with `--help`. `readFile` returns a file's text (injected so tests need no disk).
    package static func parse(_ arguments: [String], readFile: (String) throws -> String) throws -> ProxyOptions? {
        let parsed = try CommandLineOptions.parse(arguments, specs: specs)
        if parsed.has("help") { return nil }
        if let extra = parsed.positional.first { throw CommandLineError("unexpected argument '\(extra)'") }
        var options = ProxyOptions()
        guard let listen = parsed.string("listen") else { throw CommandLineError("--listen HOST:PORT is required") }
        options.listen = try HostPort(parsing: listen)
        guard let hosts = parsed.string("hosts") else { throw CommandLineError("--hosts FILE is required") }
        options.hostsPath = hosts
        let membership = try HostsFile.membership(try readFile(hosts), source: hosts)
        options.hostsEntries = membership.entries
        options.generation = membership.generation
        try options.readNumbers(parsed)
        if let problem = ClusterLimits.problem(nodes: options.nodes.count, replicas: options.replicas, vnodes: options.vnodes,
                                               source: hosts) {
            throw CommandLineError(problem)
        }
        options.skew = try VersionSkew.parse(parsed)
        options.clusterToken = try ClusterToken.read(parsed, readFile: readFile)
        if let command = parsed.string("restart-command"), !command.isEmpty { options.restartCommand = command }
        options.urlRules = try LongURLRules.fromOptions(parsed)
        try options.limits.apply(parsed)
        try options.logging.apply(parsed)
        options.admin = try AdminOptions.parse(parsed, publicAddress: options.listen, nodes: options.nodes, hostsPath: hosts)
        options.writeToken = try WriteTokenGate.read(parsed, readFile: readFile)
        options.publicURL = try parsed.string("public-url").map { try ShortURL.parseOption($0) }
        return options
    }

    private mutating func readNumbers(_ parsed: ParsedOptions) throws {
        replicas = try parsed.integer("replicas", default: replicas, range: Limits.replicasRange)
        vnodes = try parsed.integer("vnodes", default: vnodes, range: Limits.vnodesRange)
        pingIntervalMs = UInt64(try parsed.integer("ping-interval-ms", default: Int(pingIntervalMs), range: Limits.pingIntervalMsRange))
        pingTimeoutMs = UInt64(try parsed.integer("ping-timeout-ms", default: Int(pingTimeoutMs), range: Limits.pingTimeoutMsRange))
        failuresToDown = try parsed.integer("down-after", default: failuresToDown, range: Limits.failuresToDownRange)
        silenceToDownMs = UInt64(try parsed.integer("silence-to-down-ms", default: Int(silenceToDownMs), range: Limits.silenceToDownMsRange))
        statusIntervalS = try parsed.integer("status-interval-s", default: statusIntervalS, range: Limits.statusIntervalSRange)
        if parsed.string("proxy-id") != nil {
            proxyID = UInt64(try parsed.integer("proxy-id", default: 0, range: 0...Int(HybridClock.originsMax - 1)))
        }
        connectTimeoutMs = UInt64(try parsed.integer("connect-timeout-ms", default: Int(connectTimeoutMs), range: Limits.connectTimeoutMsRange))
        nodeTimeoutMs = UInt64(try parsed.integer("node-timeout-ms", default: Int(nodeTimeoutMs), range: Limits.nodeTimeoutMsRange))
        poolSize = try parsed.integer("pool-size", default: poolSize, range: Limits.poolSizeRange)
        pipelineDepth = try parsed.integer("pipeline-depth", default: pipelineDepth, range: Limits.pipelineDepthRange)
        queueMax = try parsed.integer("queue-max", default: queueMax, range: Limits.queueMaxRange)
        restartAfterMs = UInt64(try parsed.integer("restart-after-ms", default: Int(restartAfterMs), range: Limits.restartAfterMsRange))
        restartTimeoutMs = UInt64(try parsed.integer("restart-timeout-ms", default: Int(restartTimeoutMs), range: Limits.restartTimeoutMsRange))
    }
}
