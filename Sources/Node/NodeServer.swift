// The storage node as one object: it owns every part of the node and wires them downward, so
// no part refers back to another (Redis's one `server` struct, explicit about ownership).
//
//   NodeServer
//    ├─ Cron ─────────── the one periodic tick: server housekeeping, everysec fdatasync,
//    │                   compaction check, repair rounds, peer deadlines, access-log flush
//    ├─ HTTPServer ───── connections ─▶ NodeService (the router)
//    │   └─ admin HTTPServer (--admin-listen) ─▶ NodeAdminRoutes ─▶ NodeService's /_/health
//    │                                   ├─ Store ─┬─ KeyValueIndex (reads records through LogSegments),
//    │                                   │         │  HybridClock, VersionSkew
//    │                                   │         └─ CommitLog (RecordLog) ─▶ the active log segment
//    │                                   ├─ LogCompactor  (read for /_/health)
//    │                                   └─ NodeMembership (generation gate, /_/health)
//    ├─ LogCompactor ─── Store (index), CommitLog (swaps its file between batches)
//    ├─ NodeMembership ─ the hosts file's generation (SIGHUP re-reads it), and for it:
//    │   ├─ AntiEntropy ─ PeerSync per peer ─▶ Store (repaired records); peers' names through
//    │   │                the NameResolver; a peer that answers with this node's id is itself
//    │   └─ Handoff ──── keys whose replicas changed ─▶ their new replicas (POST /_/handoff)
//    ├─ TombstoneCollector  index sweep for tombstones past the grace period; alive stamp
//    ├─ BackupSnapshots  on SIGUSR1, hard-link snapshots of the data directory for backups
//    └─ LogFiles ─────── stderr / --access-log
//
// The router, anti-entropy and the compactor share the one Store; callbacks from libuv reach
// them through their handles. Shutdown (`stop`) closes them top-down and the cron last, after
// which the loop has nothing left and `run()` returns.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class NodeServer {
    /// Who this node is (its data's id, for /_/health and to recognise itself among its peers)
    /// and how it finds its peers' addresses.
    struct Identity {
        let nodeID: String
        let resolver: NameResolver
    }

    private let loop: EventLoop
    private let resolver: NameResolver
    /// Name lookups still in a resolver thread when the node stopped (the process then exits
    /// without waiting for them: NodeProcess).
    private(set) var lookupsLeftRunning = 0
    private let cron: Cron
    private let logFiles: LogFiles
    private let commitLog: CommitLog
    private let compactor: LogCompactor
    private let membership: NodeMembership?
    private let tombstones: TombstoneCollector
    private let backups: BackupSnapshots
    private let router: NodeService
    private let adminOptions: AdminOptions
    private let segments: LogSegments
    private let hintPath: String
    let store: Store
    let httpServer: HTTPServer

    /// Builds the node over a replayed `index` and its log `file`; `cron` and `logFiles` are
    /// the process's, owned from now on (closed by `stop`).
    init(loop: EventLoop, cron: Cron, logFiles: LogFiles, options: NodeOptions, log: NodeProcess.OpenedLog,
         memberships: MovingMemberships?, origin: UInt64, identity: Identity) {
        self.loop = loop
        resolver = identity.resolver
        self.cron = cron
        self.logFiles = logFiles
        let commitLog = CommitLog(loop: loop, cron: cron, file: log.file, segment: log.segment, segments: log.segments,
                                  segmentBytes: options.segmentBytes, policy: options.fsync)
        let store = Store(index: log.index, log: commitLog, origin: origin, skew: options.skew)
        let hintPath = options.dataDirectory + "/" + IndexHint.fileName
        let compactor = LogCompactor(loop: loop, cron: cron, store: store, commitLog: commitLog, segments: log.segments,
                                     policy: options.compaction, hintPath: hintPath)
        let membership = memberships.map {
            NodeMembership(loop: loop, cron: cron, store: store, options: options, identity: identity, memberships: $0)
        }
        tombstones = TombstoneCollector(cron: cron, index: log.index, rules: options.tombstones, dataDirectory: options.dataDirectory) {
            [membership] range in
            // Without a ring no other replica exists; during a move (an older generation still
            // listed) or on a node the ring left, nothing is confirmed.
            guard let membership else { return Int64.max }
            guard membership.memberships.previous.isEmpty, let antiEntropy = membership.antiEntropy else { return nil }
            return antiEntropy.confirmedUnixMs(range: range)
        }
        let router = NodeService(store: store, compactor: compactor, commitLog: commitLog, membership: membership, clusterToken: options.clusterToken,
                                 fsync: options.fsync, urlRules: options.urlRules, nodeID: identity.nodeID)
        self.commitLog = commitLog
        backups = BackupSnapshots(loop: loop, directory: options.dataDirectory, commitLog: commitLog, segments: log.segments)
        segments = log.segments
        self.hintPath = hintPath
        self.store = store
        self.compactor = compactor
        self.membership = membership
        self.router = router
        logFiles.onHangUp = { membership?.reload() }
        adminOptions = options.admin
        let server = HTTPServer(loop: loop, limits: options.limits, handler: router, cron: cron)
        commitLog.answeringTogether = { [unowned server] in server.answeringTogether($0) }
        httpServer = server
        httpServer.accessLog = logFiles.accessLog
    }

    /// Listens (and on the admin address) and starts the periodic duties; returns the bound
    /// addresses.
    func start(host: String, port: Int) throws -> (address: HostPort, admin: HostPort?) {
        let bound = try httpServer.start(host: host, port: port)
        let adminBound = try httpServer.serveOperatorRoutes(adminOptions, adminHandler: NodeAdminRoutes(router: router))
        compactor.start()
        tombstones.start()
        try backups.start()
        resolver.start(cron: cron)
        Log.info("the full /_/health: " + adminOptions.describe(adminAddress: adminBound?.description))
        return (HostPort(host: bound.host, port: bound.port), adminBound)
    }

    /// Pulls what the node missed from its peers (reads answer "recovering" meanwhile), then
    /// repairs periodically. A node without peers is ready at once.
    func recover() {
        guard let membership else { return }
        router.isReady = false
        membership.recover { [router] in
            router.isReady = true
            Log.info("ready: caught up with every reachable peer")
        }
    }

    /// After the last client connection closed: stops repair and compaction, drains the log,
    /// syncs and closes it, writes the hint file, then closes the log files and the cron; then `done`.
    func stop(then done: @escaping () -> Void) {
        membership?.close()
        compactor.close()
        tombstones.close()
        backups.close()
        let lookupsRunning = resolver.close()
        lookupsLeftRunning = lookupsRunning
        commitLog.drain { [commitLog, logFiles, cron, loop, store, segments, hintPath] in
            commitLog.close()
            if commitLog.closeFailure == nil {
                IndexHint.write(store.index, segments: segments, active: commitLog.segment, activeBytes: commitLog.activeBytes, hintPath: hintPath)
            }
            logFiles.close()
            cron.close()
            done()
            if lookupsRunning > 0 {
                // The log is synced and closed: nothing waits for a silent resolver's answers.
                Log.info("not waiting for \(lookupsRunning) name lookup(s) still in the resolver")
                loop.stop()
            }
        }
    }

    /// The error of the log's final fdatasync, if it failed (the process then exits 1).
    var closeFailure: UVError? { commitLog.closeFailure }
}
