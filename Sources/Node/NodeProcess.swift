// Start-up and shutdown of `linkring-node`.
//
//   parse options ─▶ create + lock the data dir (refused while a restore is unfinished:
//   BackupTool.swift) ─▶ its node id (DIR/node-id, made on first use) ─▶ with peers: data
//   last alive longer ago than --tombstone-grace-ms refused (or set aside with --rejoin-empty,
//   TombstoneCollector.swift) ─▶ the hosts file's names looked up, aliases
//   refused (exit 1) ─▶ its membership checked against DIR/membership (NodeMembership) ─▶ the
//   log's segments (SegmentLayout.swift; a .compact file left by a crash during compaction is
//   removed; the single linkring.log of an earlier release becomes segment 1) ─▶ the index
//   loaded from linkring.hint if it describes them (IndexHint.swift), then the segments
//   replayed from where the hint ends (all of them without a usable hint): torn tail of the
//   active segment truncated + warn; corruption, or a torn sealed segment: refuse, or skip with
//   --skip-corrupt
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
    static func run(_ arguments: [String]) -> Never {
        ProcessMain.run(name: "linkring-node", usage: NodeOptions.usage,
                        parse: { try NodeOptions.parse(arguments, readFile: FileSystem.readTextFile).map(checkListed) }) { options in
            if let dumpPath = options.dumpPath { ProcessSetup.exit(LogDump.run(path: dumpPath)) }
            if let command = options.backupCommand { ProcessSetup.exit(BackupTool.run(command, rules: options.tombstones)) }
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
        if FileSystem.exists(options.dataDirectory + "/" + BackupTool.restoringMarkerName) {
            throw CommandLineError("\(options.dataDirectory) holds an unfinished restore (\(BackupTool.restoringMarkerName)): "
                + "run 'linkring-node restore BACKUP \(options.dataDirectory)' again (scripts/restore.bash)")
        }
        let nodeID = try loadNodeID(directory: options.dataDirectory)
        let resolver = NameResolver(loop: loop)
        if let hostsPath = options.hostsPath {
            try HostsStartupCheck.run(options.hostsEntries, source: hostsPath, loop: loop, resolver: resolver)
        }
        if options.hostsPath != nil {
            try TombstoneCollector.checkStaleData(directory: options.dataDirectory, rules: options.tombstones, rejoinEmpty: options.rejoinEmpty)
        }
        TombstoneCollector.stampAlive(options.dataDirectory + "/" + TombstoneCollector.aliveFileName)
        let opened = try openLog(loop: loop, directory: options.dataDirectory, skipCorrupt: options.skipCorrupt)
        let (index, file) = (opened.index, opened.file)
        let memberships = try options.hostsPath.map {
            try NodeMembership.startingMemberships(file: options.membership, directory: options.dataDirectory, source: $0)
        }
        var random = SystemRandomNumberGenerator()
        let origin = HybridClock.randomOrigin(using: &random)
        let node = NodeServer(loop: loop, cron: cron, logFiles: logFiles, options: options, log: opened,
                              memberships: memberships, origin: origin, identity: NodeServer.Identity(nodeID: nodeID, resolver: resolver))
        let (bound, admin) = try node.start(host: options.listen.host, port: options.listen.port)
        let address = bound.description
        let shutdown = GracefulShutdown(loop: loop, server: node.httpServer, deadlineMs: Limits.nodeShutdownDeadlineMs) { done in
            node.stop(then: done)
        }
        try shutdown.watchSignals()
        Log.info("node \(address): \(index.liveKeys) keys, \(index.tombstones) tombstones, log \(opened.segments.sealedBytes + file.size) bytes in \(opened.segments.sealed.count + 1) segments, fsync \(options.fsync.rawValue), "
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

    /// The log as start-up leaves it: the index over it, the active segment opened for
    /// appending, and the segment table the index reads records through (the active one is
    /// `segment` there).
    struct OpenedLog {
        let index: KeyValueIndex
        let file: AppendOnlyFile
        let segments: LogSegments
        let segment: UInt16
    }

    /// The segments' sequence numbers, oldest first, after removing unfinished compactions and
    /// converting an earlier release's single log; a fresh directory gets segment 1.
    private static func segmentSequences(loop: EventLoop, directory: String) throws -> [UInt32] {
        let names = try FileSystem.listDirectory(directory)
        for name in names where name.hasSuffix(SegmentLayout.compactingSuffix) {
            Log.warning("\(directory)/\(name): removing an unfinished compaction (the segment it rewrote is whole)")
            try FileSystem.removeFile(directory + "/" + name)
        }
        var sequences = names.compactMap(SegmentLayout.sequence(ofFileName:)).sorted()
        let legacy = directory + "/" + SegmentLayout.legacyLogName
        if names.contains(SegmentLayout.legacyLogName) {
            guard sequences.isEmpty else {
                throw CommandLineError("\(legacy) (the log of an earlier release) lies beside log segments "
                    + "(\(SegmentLayout.fileName(sequences[0])) …): the directory was used by two releases. Keep one: move \(legacy) away "
                    + "to keep the segments, or move the segments away and the node converts \(legacy) into segment 1 at its next start")
            }
            try FileSystem.rename(legacy, to: directory + "/" + SegmentLayout.fileName(1))
            try FileSystem.syncDirectory(directory)
            Log.warning("\(legacy): converted to \(SegmentLayout.fileName(1)) (log segments; the record format is unchanged)")
            sequences = [1]
        }
        if sequences.isEmpty {
            let first = try AppendOnlyFile(loop: loop, path: directory + "/" + SegmentLayout.fileName(1))
            try first.appendBlocking(LogRecord.fileMagic)
            first.closeWithoutSync()
            try FileSystem.syncDirectory(directory)
            sequences = [1]
        }
        return sequences
    }

    /// Opens the segments, loads the hint or replays; returns the index and the active segment.
    private static func openLog(loop: EventLoop, directory: String, skipCorrupt: Bool) throws -> OpenedLog {
        let sequences = try segmentSequences(loop: loop, directory: directory)
        let segments = LogSegments(directory: directory)
        var ids: [UInt16] = []
        var sizes: [Int] = []
        for (position, sequence) in sequences.enumerated() {
            let size = try ReadableFile(path: segments.path(ofSequence: sequence)).size()
            ids.append(try segments.open(sequence: sequence, sealedBytes: position == sequences.count - 1 ? nil : size))
            sizes.append(size)
        }
        let hinted = try IndexHint.load(hintPath: directory + "/" + IndexHint.fileName, segments: segments, ids: ids, sizes: sizes)
        let index = hinted?.index ?? KeyValueIndex(source: segments)
        if hinted == nil { index.reserveCapacity(sizes.reduce(0, +) / LogReplay.typicalRecordBytes) }
        let from = hinted?.replayFrom ?? (position: 0, offset: 0)
        var records = 0
        var activeBytes = sizes.last!
        for position in from.position..<ids.count {
            let isActive = position == ids.count - 1
            let report = try replay(segments, ids[position], size: sizes[position], from: position == from.position ? from.offset : 0,
                                    isActive: isActive, skipCorrupt: skipCorrupt, into: index, loop: loop)
            records += report.records
            if isActive { activeBytes = report.validBytes }
        }
        let file = try AppendOnlyFile(loop: loop, path: segments.path(ofSequence: sequences.last!), preallocationBytes: Limits.logPreallocationBytes)
        armCrashPointForTests(file)
        if activeBytes < file.size {
            if try isZeros(file.path, from: activeBytes, to: file.size) {
                file.resume(at: activeBytes)  // space written ahead (preallocation): the log ends here
            } else {
                Log.warning("\(file.path): torn tail at byte \(activeBytes) (\(file.size - activeBytes) bytes) truncated")
                try file.truncate(to: activeBytes)
            }
        }
        if file.size == 0 { try file.appendBlocking(LogRecord.fileMagic) }
        Log.info("\(directory): \(sequences.count) log segments, replayed \(records) records")
        return OpenedLog(index: index, file: file, segments: segments, segment: ids.last!)
    }

    /// Whether bytes `start..<end` of the file at `path` are all zero (read a chunk at a time).
    static func isZeros(_ path: String, from start: Int, to end: Int) throws -> Bool {
        var offset = start
        while offset < end {
            let chunk = try FileSystem.readRange(path, offset..<min(end, offset + Limits.replayChunkBytes))
            guard !chunk.isEmpty else { return true }
            if chunk.contains(where: { $0 != 0 }) { return false }
            offset += chunk.count
        }
        return true
    }

    /// Replays segment `id` from byte `start` into `index`. A torn tail is the crash's, in the
    /// active segment (the caller truncates it); in a sealed one (synced whole when it was
    /// sealed) it is damage, refused as corruption unless `skipCorrupt` (then cut).
    private static func replay(_ segments: LogSegments, _ id: UInt16, size: Int, from start: Int, isActive: Bool,
                               skipCorrupt: Bool, into index: KeyValueIndex, loop: EventLoop) throws -> ReplayReport {
        guard let reader = segments.file(of: id) else { throw UVError(-2, "no open log segment \(id)") }
        let path = reader.path
        var unplaceable: Int?
        let replayed = try LogReplay.replay(size: size, chunkBytes: Limits.replayChunkBytes, skipCorrupt: skipCorrupt, from: start,
                                            lostPageEndsLog: isActive, read: { try reader.read(count: $0.count, at: $0.lowerBound) }) { record, offset in
            guard let location = RecordLocation(segment: id, offset: offset, length: record.encodedBytes) else {
                unplaceable = unplaceable ?? offset
                return
            }
            index.apply(record, at: location)
        }
        let report: ReplayReport
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
                + "(a segment over \(Limits.segmentBytesMax) bytes, or a record over \(UInt16.max) bytes): this release cannot serve it")
        }
        if let tail = report.tornTail, !isActive {
            guard skipCorrupt else {
                throw CommandLineError("\(path): a sealed segment ends in \(tail.count) bytes that are not a whole record (byte \(tail.lowerBound)): "
                    + "it was synced whole when sealed, so it is damaged. Start with --skip-corrupt to cut them (their records are lost).")
            }
            Log.warning("\(path): damaged tail at byte \(tail.lowerBound) (\(tail.count) bytes) cut (--skip-corrupt)")
            let file = try AppendOnlyFile(loop: loop, path: path)
            try file.truncate(to: report.validBytes)
            file.closeWithoutSync()
            try segments.seal(id, bytes: report.validBytes)
        }
        return report
    }
}
