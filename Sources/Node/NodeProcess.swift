// Start-up and shutdown of `linkring-node`.
//
//   parse options ─▶ create + lock the data dir ─▶ its node id (DIR/node-id, made on first
//   use) ─▶ with peers: data last alive longer ago than --tombstone-grace-ms refused (or set aside
//   with --rejoin-empty, TombstoneCollector.swift) ─▶ the hosts file's names looked up, aliases
//   refused (exit 1) ─▶ its membership checked against DIR/membership (NodeMembership) ─▶ replay
//   linkring.log into the index
//   (torn tail: truncate + warn; corruption: refuse, or skip with --skip-corrupt; a
//   linkring.log.compact left by a crash during compaction is removed), or load it from
//   linkring.hint when a clean stop left one that describes the log (IndexHint.swift)
//   ─▶ NodeServer (every part of the node, NodeServer.swift) ─▶ listen (and on the admin
//   address: print "admin address HOST:PORT") ─▶ print "listening on HOST:PORT" ─▶ recover
//   from peers ─▶ run the loop
//
// SIGTERM/SIGINT: stop accepting, let in-flight requests finish (their writes reach the disk),
// drain the commit log, fdatasync, write the hint file, exit 0 (exit 1, with an ERROR line, if that fdatasync
// fails). A second signal, or `Limits.nodeShutdownDeadlineMs`, cuts it short.
//
// LINKRING_TEST_CRASH_AT_BYTE (crash-point tests) is honoured only by binaries built with the
// LINKRING_TEST_HOOKS condition (debug builds); a release binary logs that it ignores it.

import LinkRingCore
import LinkRingServer
import LinkRingUV

enum NodeProcess {
    static let logFileName = "linkring.log"

    static func run(_ arguments: [String]) -> Never {
        ProcessMain.run(name: "linkring-node", usage: NodeOptions.usage,
                        parse: { try NodeOptions.parse(arguments, readFile: FileSystem.readTextFile).map(checkListed) }) { options in
            if let dumpPath = options.dumpPath { ProcessSetup.exit(LogDump.run(path: dumpPath)) }
            try serve(options)
        }
    }

    /// A node the hosts file does not list starts only from a data directory that served this
    /// cluster (its DIR/membership): it left, and hands off what it still holds, then may be
    /// stopped. A node with no such state is a mistake (a wrong --listen or --self): refused.
    private static func checkListed(_ options: NodeOptions) throws -> NodeOptions {
        guard let problem = options.notListedProblem, let me = options.selfAddress else { return options }
        let statePath = options.dataDirectory + "/" + NodeMembership.stateFileName
        guard FileSystem.exists(statePath),
              (try? MovingMemberships.parseState(try FileSystem.readTextFile(statePath), source: statePath)) != nil
        else { throw CommandLineError(problem) }
        Log.info("\(me) is not listed in \(options.hostsPath ?? "the hosts file"): it left the cluster; "
                 + "it hands off what it holds, then may be stopped")
        return options
    }

    private static func serve(_ options: NodeOptions) throws {
        let loop = try EventLoop()
        let cron = Cron(loop: loop)
        let logFiles = try LogFiles(loop: loop, options: options.logging, cron: cron)
        try FileSystem.makeDirectory(options.dataDirectory)
        try FileSystem.lockDirectory(options.dataDirectory)
        let nodeID = try loadNodeID(directory: options.dataDirectory)
        let resolver = NameResolver(loop: loop)
        if let hostsPath = options.hostsPath {
            try HostsStartupCheck.run(options.hostsEntries, source: hostsPath, loop: loop, resolver: resolver)
        }
        let path = options.dataDirectory + "/" + logFileName
        if options.hostsPath != nil {
            try TombstoneCollector.checkStaleData(directory: options.dataDirectory, logPath: path, rules: options.tombstones,
                                                  rejoinEmpty: options.rejoinEmpty)
        }
        TombstoneCollector.stampAlive(options.dataDirectory + "/" + TombstoneCollector.aliveFileName)
        let opened = try openLog(loop: loop, path: path, skipCorrupt: options.skipCorrupt)
        let (index, file) = (opened.index, opened.file)
        let memberships = try options.hostsPath.map {
            try NodeMembership.startingMemberships(file: options.membership, directory: options.dataDirectory, source: $0)
        }
        var random = SystemRandomNumberGenerator()
        let origin = HybridClock.randomOrigin(using: &random)
        let node = NodeServer(loop: loop, cron: cron, logFiles: logFiles, options: options, log: opened, logPath: path,
                              memberships: memberships, origin: origin, identity: NodeServer.Identity(nodeID: nodeID, resolver: resolver))
        let (bound, admin) = try node.start(host: options.listen.host, port: options.listen.port)
        let address = bound.description
        let shutdown = GracefulShutdown(loop: loop, server: node.httpServer, deadlineMs: Limits.nodeShutdownDeadlineMs) { done in
            node.stop(then: done)
        }
        try shutdown.watchSignals()
        Log.info("node \(address): \(index.liveKeys) keys, \(index.tombstones) tombstones, log \(file.size) bytes, fsync \(options.fsync.rawValue), "
            + "version origin \(origin), node id \(nodeID)")
        if let admin { Output.printLine("admin address \(admin)") }
        Output.printLine("listening on \(address)")
        node.recover()
        loop.run()
        if !loop.close() { Log.warning("event loop closed with handles still open") }
        if let failure = node.closeFailure { throw failure }
        Log.info("node \(address) stopped")
        if node.lookupsLeftRunning > 0 { ProcessSetup.exitSkippingHandlers(0) }
    }

    /// The id in DIR/node-id, made (random) and written on the directory's first use.
    private static func loadNodeID(directory: String) throws -> String {
        let path = directory + "/" + NodeIdentity.fileName
        guard FileSystem.exists(path) else {
            let id = NodeIdentity.make(from: UInt64.random(in: 0...UInt64.max))
            try FileSystem.writeFileAtomically(path, Array((id + "\n").utf8))
            return id
        }
        guard let id = NodeIdentity.parse(try FileSystem.readTextFile(path)) else {
            throw CommandLineError("\(path) does not hold a node id (\(NodeIdentity.digits) hex digits): restore it, "
                                   + "or remove it to give this data a new id")
        }
        return id
    }

    static let crashPointVariable = "LINKRING_TEST_CRASH_AT_BYTE"

    /// Arms the crash-point test hook (AppendOnlyFile.crashAtByte) when the build has it.
    private static func armCrashPointForTests(_ file: AppendOnlyFile) {
        guard let cut = ProcessEnvironment.value(crashPointVariable).flatMap({ Int($0) }) else { return }
        #if LINKRING_TEST_HOOKS
        Log.warning("TEST HOOK: the process will kill itself when the log would pass byte \(cut)")
        file.crashAtByte = cut
        #else
        Log.warning("\(crashPointVariable)=\(cut) ignored: this binary is built without test hooks")
        #endif
    }

    /// The log as start-up leaves it: the index over it, the file opened for appending, and
    /// the segment table the index reads records through (the file is `segment` there).
    struct OpenedLog {
        let index: KeyValueIndex
        let file: AppendOnlyFile
        let segments: LogSegments
        let segment: UInt16
    }

    /// Replays the log; returns the index and the file opened for appending.
    private static func openLog(loop: EventLoop, path: String, skipCorrupt: Bool) throws -> OpenedLog {
        let unfinished = LogCompactor.temporaryPath(forLog: path)
        if FileSystem.exists(unfinished) {
            Log.warning("\(unfinished): removing an unfinished compaction (\(path) is whole)")
            try FileSystem.removeFile(unfinished)
        }
        let file = try AppendOnlyFile(loop: loop, path: path)
        let segments = LogSegments()
        let segment = try segments.open(path)
        let reader = try ReadableFile(path: path)
        let size = try reader.size()
        if let index = try IndexHint.load(hintPath: NodeServer.hintPath(forLog: path), logPath: path, logBytes: size, segments: segments, segment: segment) {
            armCrashPointForTests(file)
            return OpenedLog(index: index, file: file, segments: segments, segment: segment)
        }
        let index = KeyValueIndex(source: segments)
        index.reserveCapacity(size / LogReplay.typicalRecordBytes)
        var unplaceable: Int?
        let report: ReplayReport
        let replayed = try LogReplay.replay(size: size, chunkBytes: Limits.replayChunkBytes, skipCorrupt: skipCorrupt,
                                            read: { try reader.read(count: $0.count, at: $0.lowerBound) }) { record, offset in
            guard let location = RecordLocation(segment: segment, offset: offset, length: record.encodedBytes) else {
                unplaceable = unplaceable ?? offset
                return
            }
            index.apply(record, at: location)
        }
        switch replayed {
        case .success(let result): report = result
        case .failure(let failure):
            throw CommandLineError("\(path): corrupt record at byte \(failure.offset): \(failure.reason). "
                + "Start with --skip-corrupt to skip corrupt ranges (their records are lost).")
        }
        for range in report.skipped {
            Log.warning("\(path): skipped corrupt bytes \(range.lowerBound)..<\(range.upperBound)")
        }
        if let offset = unplaceable {
            throw CommandLineError("\(path): the record at byte \(offset) is beyond what the index can place "
                + "(a log over \(Limits.segmentBytesMax) bytes, or a record over \(UInt16.max) bytes): this release cannot serve it")
        }
        armCrashPointForTests(file)
        if let tail = report.tornTail {
            Log.warning("\(path): torn tail at byte \(tail.lowerBound) (\(tail.count) bytes) truncated")
            try file.truncate(to: report.validBytes)
        }
        if file.size == 0 { try file.appendBlocking(LogRecord.fileMagic) }
        Log.info("\(path): replayed \(report.records) records")
        return OpenedLog(index: index, file: file, segments: segments, segment: segment)
    }
}
