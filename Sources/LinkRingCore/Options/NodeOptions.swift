// The node's command line, parsed into a value the server is built from.

package enum FsyncPolicy: String, Sendable, CaseIterable {
    /// A write is acknowledged after fdatasync (group commit): the default.
    case always
    /// A write is acknowledged after write(); fdatasync runs once a second.
    case everysec
    /// A write is acknowledged after write(); the kernel flushes when it likes.
    case never
}

package struct NodeOptions: Sendable {
    package var listen = HostPort(host: "127.0.0.1", port: 0)
    package var dataDirectory = ""
    package var fsync = FsyncPolicy.always
    package var skipCorrupt = false
    package var clusterToken: [UInt8]? = nil
    /// What a long URL must be to be stored (`--allowed-schemes`).
    package var urlRules = LongURLRules.standard
    package var limits = ServerLimits()
    package var logging = LoggingOptions()
    /// The cluster's hosts file, and this node's own entry in it.
    package var hostsPath: String? = nil
    package var hostsEntries: [HostsEntry] = []
    package var nodes: [HostPort] { hostsEntries.map(\.address) }
    /// The hosts file's `generation N` (0 without the line).
    package var generation: UInt64 = 0
    package var membership: Membership { Membership(generation: generation, entries: hostsEntries) }
    package var selfAddress: HostPort? = nil
    /// Ring parameters: every process of a cluster must use the same ones (and hosts file).
    package var replicas = Limits.replicasDefault
    package var vnodes = Limits.vnodesDefault
    /// Period of anti-entropy rounds with the peers that share key ranges.
    package var syncIntervalMs = Limits.syncIntervalMsDefault
    /// Whether the hosts file lists this node. A node it does not list starts only from a data
    /// directory that served the cluster (a node that left: it hands its data off).
    package var isListed = true
    /// The refusal for a node the hosts file does not list, nil when it does.
    package var notListedProblem: String? {
        guard !isListed, let me = selfAddress, let hostsPath else { return nil }
        return "\(me) is not listed in \(hostsPath); give --self HOST:PORT as the file lists this node"
            + " (a node that left the cluster starts with the new file only from its own data directory, to hand its data off)"
    }
    /// How long a node waits, once no move is under way, before it releases the keys of ranges
    /// it no longer holds (the proxies end the move meanwhile).
    package var releaseDelayMs = Limits.releaseDelayMsDefault
    /// A peer request not answered within this fails (repair retries in the next round).
    package var peerTimeoutMs = Limits.peerTimeoutMsDefault
    /// Versions further ahead of this node's wall clock are refused (VersionRules.swift).
    package var skew = VersionSkew()
    /// When the log is rewritten to its live records.
    package var compaction = CompactionPolicy()
    /// The active log segment is sealed and a new one started once it is this long.
    package var segmentBytes = Limits.segmentBytesDefault
    /// When tombstones are collected, and when a data directory is too old to serve.
    package var tombstones = TombstoneRules()
    /// Set a stale data directory's log aside and start empty (refilled from the peers).
    package var rejoinEmpty = false
    /// Where the full /_/health is served (--admin-listen, --admin-on-public).
    package var admin = AdminOptions()
    /// Set when the command is `dump PATH`: print a log as text and exit.
    package var dumpPath: String? = nil
    /// Set when the command is `backup DATA DEST` or `restore BACKUP DATA` (BackupTool.swift).
    package var backupCommand: BackupCommand? = nil

    package enum BackupCommand: Equatable, Sendable {
        /// Copy the data directory `data` (a node may be serving it) into the new directory `destination`.
        case backup(data: String, destination: String)
        /// Restore the backup in `backup` into `data`; `wholeCluster`: every node is restored
        /// from one backup run, so no age limit (TombstoneRules.isRestorable) applies.
        case restore(backup: String, data: String, wholeCluster: Bool)
    }

    package init() {}

    static let specs: [OptionSpec] = [
        .value("listen", "HOST:PORT", "address to serve on (port 0 picks a free port)"),
        .value("data", "DIR", "data directory (created if missing); holds the log segments linkring-N.log"),
        .value("fsync", "always|everysec|never", "when a write is durable before it is acknowledged (default always)"),
        .flag("skip-corrupt", "skip corrupt records in the middle of the log instead of refusing to start"),
        .value("compact-min-bytes", "N", "rewrite the log only once it is this long (default 67108864)"),
        .value("compact-ratio", "N", "… and N times the bytes of its live records (default 2)"),
        .value("segment-bytes", "N", "start a new log segment once the active one is this long (default 268435456)"),
        .value("tombstone-grace-ms", "MS", "keep a tombstone at least this long, and refuse data last alive longer ago (default 864000000, 10 days)"),
        .flag("rejoin-empty", "data last alive longer ago than the grace period: set its log aside and refill from the peers"),
        .flag("whole-cluster", "restore: every node is restored from one backup run (no age limit; the data is stamped alive now)"),
        .value("hosts", "FILE", "the cluster's hosts file (optional for a lone node)"),
        .value("clock-skew-ms", "MS", "refuse versions this far ahead of the wall clock (default 1000; hosts run NTP)"),
        .value("self", "HOST:PORT", "this node's entry in the hosts file (default: --listen)"),
        .value("replicas", "N", "copies of every key; must match the proxy (default 2)"),
        .value("vnodes", "N", "virtual nodes per node; must match the proxy (default 64)"),
        .value("sync-interval-ms", "MS", "anti-entropy period with peers (default 5000)"),
        .value("peer-timeout-ms", "MS", "time-out of a request to a peer during repair (default 5000)"),
        .value("release-delay-ms", "MS", "after a membership move, wait this long before dropping ranges no longer held (default 30000)"),
        LongURLRules.optionSpec,
    ] + ServerLimits.specs + ClusterToken.specs(purpose: "answer only GET /_/health without X-Cluster-Token: TOKEN") + LoggingOptions.specs
        + AdminOptions.specs(routes: "the full /_/health (every counter)")
        + [.flag("help", "print this help")]

    static let synopsis = """
        linkring-node --listen HOST:PORT --data DIR [options]
               linkring-node dump PATH         print a data directory's log, a segment or a hint file
               linkring-node backup DATA DEST  copy a data directory, also while its node serves, into the new directory DEST
               linkring-node restore BACKUP DATA [--whole-cluster] [--tombstone-grace-ms MS]
                                               restore a backup into a data directory whose node is stopped
        """

    package static var usage: String { CommandLineOptions.usage(synopsis: synopsis, specs: specs) }

    /// Nil with `--help`. `readFile` returns a file's text (injected so tests need no disk).
    package static func parse(_ arguments: [String], readFile: (String) throws -> String = { _ in "" }) throws -> NodeOptions? {
        let parsed = try CommandLineOptions.parse(arguments, specs: specs)
        if parsed.has("help") { return nil }
        var options = NodeOptions()
        if parsed.positional.first == "dump" {
            guard parsed.positional.count == 2 else { throw CommandLineError("dump takes one log file path") }
            options.dumpPath = parsed.positional[1]
            return options
        }
        if let command = try parseBackupCommand(parsed) {
            options.backupCommand = command
            options.tombstones = TombstoneRules(graceMs: UInt64(try parsed.integer("tombstone-grace-ms", default: Int(Limits.tombstoneGraceMsDefault),
                                                                                   range: Limits.tombstoneGraceMsRange)))
            return options
        }
        if let extra = parsed.positional.first { throw CommandLineError("unexpected argument '\(extra)'") }
        if parsed.has("whole-cluster") { throw CommandLineError("--whole-cluster belongs to 'linkring-node restore'") }
        guard let listen = parsed.string("listen") else { throw CommandLineError("--listen HOST:PORT is required") }
        options.listen = try HostPort(parsing: listen)
        guard let data = parsed.string("data"), !data.isEmpty else { throw CommandLineError("--data DIR is required") }
        options.dataDirectory = data
        if let fsync = parsed.string("fsync") {
            guard let policy = FsyncPolicy(rawValue: fsync) else {
                throw CommandLineError("--fsync must be always, everysec or never, not '\(fsync)'")
            }
            options.fsync = policy
        }
        options.skipCorrupt = parsed.has("skip-corrupt")
        options.compaction.minLogBytes = try parsed.integer("compact-min-bytes", default: options.compaction.minLogBytes,
                                                            range: Limits.compactionLogBytesMinRange)
        options.compaction.growthRatio = try parsed.integer("compact-ratio", default: options.compaction.growthRatio, range: Limits.compactionGrowthRatioRange)
        options.segmentBytes = try parsed.integer("segment-bytes", default: options.segmentBytes, range: Limits.segmentBytesRange)
        options.clusterToken = try ClusterToken.read(parsed, readFile: readFile)
        options.skew = try VersionSkew.parse(parsed)
        let graceMs = try parsed.integer("tombstone-grace-ms", default: Int(Limits.tombstoneGraceMsDefault), range: Limits.tombstoneGraceMsRange)
        options.tombstones = TombstoneRules(graceMs: UInt64(graceMs), skewMs: options.skew.skewMsMax)
        options.rejoinEmpty = parsed.has("rejoin-empty")
        options.urlRules = try LongURLRules.fromOptions(parsed)
        try options.limits.apply(parsed)
        try options.logging.apply(parsed)
        try options.readCluster(parsed, readFile: readFile)
        options.admin = try AdminOptions.parse(parsed, publicAddress: options.listen, nodes: options.nodes, hostsPath: options.hostsPath)
        return options
    }

    /// `backup DATA DEST` or `restore BACKUP DATA`, or nil for another command.
    private static func parseBackupCommand(_ parsed: ParsedOptions) throws -> BackupCommand? {
        guard let verb = parsed.positional.first, verb == "backup" || verb == "restore" else { return nil }
        let wholeCluster = parsed.has("whole-cluster")
        guard parsed.positional.count == 3, !parsed.positional[1].isEmpty, !parsed.positional[2].isEmpty else {
            throw CommandLineError(verb == "backup" ? "backup takes DATA_DIR DEST (the data directory, and a new directory for the copy)"
                                                    : "restore takes BACKUP DATA_DIR (a backup's directory, and the node's data directory)")
        }
        if verb == "backup" {
            if wholeCluster { throw CommandLineError("--whole-cluster belongs to 'linkring-node restore'") }
            return .backup(data: parsed.positional[1], destination: parsed.positional[2])
        }
        return .restore(backup: parsed.positional[1], data: parsed.positional[2], wholeCluster: wholeCluster)
    }

    /// With `--hosts`, the node must find itself in the file (by --self, else --listen).
    private mutating func readCluster(_ parsed: ParsedOptions, readFile: (String) throws -> String) throws {
        let selfText = parsed.string("self")
        guard let hosts = parsed.string("hosts") else {
            for clusterOnly in ["self", "replicas", "vnodes", "sync-interval-ms", "peer-timeout-ms", "release-delay-ms"] where parsed.string(clusterOnly) != nil {
                throw CommandLineError("--\(clusterOnly) needs --hosts")
            }
            return
        }
        hostsPath = hosts
        let membership = try HostsFile.membership(try readFile(hosts), source: hosts)
        hostsEntries = membership.entries
        generation = membership.generation
        replicas = try parsed.integer("replicas", default: replicas, range: Limits.replicasRange)
        vnodes = try parsed.integer("vnodes", default: vnodes, range: Limits.vnodesRange)
        syncIntervalMs = UInt64(try parsed.integer("sync-interval-ms", default: Int(syncIntervalMs), range: Limits.syncIntervalMsRange))
        peerTimeoutMs = UInt64(try parsed.integer("peer-timeout-ms", default: Int(peerTimeoutMs), range: Limits.peerTimeoutMsRange))
        releaseDelayMs = UInt64(try parsed.integer("release-delay-ms", default: Int(releaseDelayMs), range: Limits.releaseDelayMsRange))
        if let problem = ClusterLimits.problem(nodes: nodes.count, replicas: replicas, vnodes: vnodes, source: hosts) {
            throw CommandLineError(problem)
        }
        let me = try selfText.map { try HostPort(parsing: $0) } ?? listen
        isListed = nodes.contains(me)
        selfAddress = me
    }
}

extension VersionSkew {
    /// Reads --clock-skew-ms, which both executables take.
    package static func parse(_ parsed: ParsedOptions) throws -> VersionSkew {
        let skewMs = try parsed.integer("clock-skew-ms", default: Int(Limits.clockSkewMsDefault), range: Limits.clockSkewMsRange)
        return VersionSkew(skewMsMax: UInt64(skewMs))
    }
}

extension ServerLimits {
    /// The limit options both executables take.
    static let specs: [OptionSpec] = [
        .value("max-connections", "N", "client connections served at once (default 10000)"),
        .value("max-connections-per-address", "N", "client connections from one address (default 1000, at most --max-connections)"),
        .value("header-timeout-ms", "MS", "time to receive a request head before 408 (default 10000)"),
        .value("idle-timeout-ms", "MS", "keep-alive idle time before closing (default 60000)"),
    ]

    /// Reads the limit options both executables share.
    package mutating func apply(_ parsed: ParsedOptions) throws {
        connectionsMax = try parsed.integer("max-connections", default: connectionsMax, range: Limits.connectionsMaxRange)
        connectionsPerAddressMax = try parsed.integer("max-connections-per-address", default: min(connectionsPerAddressMax, connectionsMax),
                                                      range: Limits.connectionsPerAddressMaxRange)
        headerTimeoutMs = UInt64(try parsed.integer("header-timeout-ms", default: Int(headerTimeoutMs), range: Limits.headerTimeoutMsRange))
        idleTimeoutMs = UInt64(try parsed.integer("idle-timeout-ms", default: Int(idleTimeoutMs), range: Limits.idleTimeoutMsRange))
        if let problem { throw CommandLineError(problem) }
    }

    /// Nil when the connection limits fit together. A per-address limit above the global one
    /// would let one address take every connection, which is what it exists to prevent.
    package var problem: String? {
        guard connectionsPerAddressMax > connectionsMax else { return nil }
        return "--max-connections-per-address \(connectionsPerAddressMax) is more than --max-connections \(connectionsMax): "
            + "one address could take every connection; give at most \(connectionsMax)"
    }
}
