// `linkring-node backup DATA DEST` and `linkring-node restore BACKUP DATA` (docs/OPERATIONS.md,
// "Backups"; docs/DECISIONS.md, "Backups while serving").
//
//   backup:  DATA/LOCK free ─▶ hold it (no node starts meanwhile) and copy the files in place
//            DATA/LOCK held by a node ─▶ ask it for a snapshot (BackupSnapshots.swift: a request
//            file and SIGUSR1 to the pid in LOCK) ─▶ wait for DATA/backup-snapshot.ID
//            ─▶ copy each listed file's first BYTES into DEST, CRC32C while copying, each file
//            synced ─▶ DEST/MANIFEST last (BackupListing.swift): a backup without one is
//            incomplete ─▶ remove the snapshot
//   restore: DEST/MANIFEST read ─▶ one node's restore refused if older than the tombstone grace
//            period allows (TombstoneRules.isRestorable), not with --whole-cluster ─▶ hold
//            DATA/LOCK (a node running there: refused) ─▶ earlier files set aside in
//            DATA/before-restore-MS/ ─▶ DATA/RESTORING (a node refuses to start while it is
//            there) ─▶ each file copied and its size and CRC32C checked ─▶ linkring.alive =
//            the backup's time (one node: the node's own start-up check then refuses it once
//            it is older than the grace period) or now (--whole-cluster) ─▶ RESTORING removed
//
// What a backup holds: every write the node acknowledged before the backup began (before the
// snapshot, which comes after the backup started), perhaps some later ones, never half a batch.

import LinkRingCore
import LinkRingServer
import LinkRingUV

enum BackupTool {
    static let restoringMarkerName = "RESTORING"
    static let setAsidePrefix = "before-restore-"

    static func run(_ command: NodeOptions.BackupCommand, rules: TombstoneRules) -> Int32 {
        do {
            switch command {
            case .backup(let data, let destination): try backup(data: data, destination: destination)
            case .restore(let backup, let data, let wholeCluster): try restore(backup: backup, data: data, rules: rules, wholeCluster: wholeCluster)
            }
            return 0
        } catch {
            Output.printError("linkring-node: \(error)")
            return 1
        }
    }

    // MARK: backup

    private static func backup(data: String, destination: String) throws {
        let startedNs = MonotonicClock.nowNs()
        guard FileSystem.isDirectory(data) else { throw CommandLineError("\(data) is not a directory: give a node's data directory (--data)") }
        if FileSystem.exists(destination) {
            guard FileSystem.isDirectory(destination), try FileSystem.listDirectory(destination).isEmpty else {
                throw CommandLineError("\(destination) already exists and is not an empty directory: a backup goes into a new directory")
            }
        }
        try FileSystem.makeDirectory(destination)
        let source: (directory: String, listing: BackupListing, isSnapshot: Bool)
        switch try FileSystem.tryLockDirectory(data, role: "backup") {
        case .acquired:
            source = (data, try offlineListing(data), false)
        case .holder(let holder):
            let snapshot = try askForSnapshot(data: data, holder: holder)
            source = (snapshot, try BackupListing.parse(try FileSystem.readTextFile(snapshot + "/" + BackupListing.snapshotName), kind: .snapshot), true)
        }
        defer { if source.isSnapshot { BackupSnapshots.removeSnapshot(source.directory) } }
        var files: [BackupListing.File] = []
        for file in source.listing.files {
            var crc: UInt32 = 0
            try FileSystem.copyPrefix(source.directory + "/" + file.name, count: file.bytes, to: destination + "/" + file.name,
                                      chunkBytes: Limits.backupCopyChunkBytes) { crc = CRC32C.update(crc, $0, 0..<$0.count) }
            files.append(BackupListing.File(name: file.name, bytes: file.bytes, crc: crc))
        }
        let manifest = BackupListing(kind: .backup, takenUnixMs: source.listing.takenUnixMs, files: files)
        try FileSystem.writeFileAtomically(destination + "/" + BackupListing.manifestName, Array(manifest.encode().utf8))
        let bytes = files.reduce(0) { $0 + $1.bytes }
        Output.printLine("backup of \(data) (\(source.isSnapshot ? "its node serving" : "no node running")) in \(destination): "
            + "\(files.count) files, \(bytes) bytes, taken at \(Timestamp.iso8601(unixMs: source.listing.takenUnixMs)), "
            + "in \((MonotonicClock.nowNs() - startedNs) / 1_000_000) ms")
    }

    /// With no node running (this process holds the lock): every file the rule takes, whole.
    private static func offlineListing(_ data: String) throws -> BackupListing {
        let names = try FileSystem.listDirectory(data).sorted()
        let last = names.compactMap(SegmentLayout.sequence(ofFileName:)).max() ?? 0
        if names.contains(SegmentLayout.legacyLogName) {
            throw CommandLineError("\(data) holds \(SegmentLayout.legacyLogName), the log of an earlier release: start the node once "
                + "(it converts it into a segment), then back it up")
        }
        let files = try names.filter { BackupSnapshotRule.length(of: $0, activeSequence: last, committedBytes: 0) != .skip }.map {
            BackupListing.File(name: $0, bytes: try FileSystem.fileSize(data + "/" + $0))
        }
        guard files.contains(where: { SegmentLayout.sequence(ofFileName: $0.name) != nil }) else {
            throw CommandLineError("\(data) holds no log segment (linkring-N.log): not a node's data directory")
        }
        return BackupListing(kind: .snapshot, takenUnixMs: WallClock.nowMs(), files: files)
    }

    /// The snapshot directory the node holding DATA/LOCK makes on request (see the file comment).
    private static func askForSnapshot(data: String, holder: String) throws -> String {
        let words = holder.split(separator: " ")
        guard words.count == 2, let pid = Int32(words[0]) else {
            throw CommandLineError("\(data)/LOCK is held by a process that did not say which (a node of a release before backups?): "
                + "stop the node for an offline backup, or upgrade it")
        }
        guard words[1] == "node" else {
            throw CommandLineError("\(data) is in use by a linkring-node \(words[1]) (pid \(pid)): wait for it to finish")
        }
        guard OtherProcess.commandLine(pid).contains("linkring-node") else {
            throw CommandLineError("\(data)/LOCK names pid \(pid), which is not a linkring-node: is the directory shared with another host?")
        }
        let id = "\(OtherProcess.selfPID)-\(UInt32.random(in: 0...UInt32.max))"
        let request = data + "/" + BackupSnapshots.requestPrefix + id
        let snapshot = data + "/" + BackupSnapshots.snapshotPrefix + id
        try FileSystem.writeFileUnsynced(request, Array("\(OtherProcess.selfPID)\n".utf8))
        defer { try? FileSystem.removeFile(request) }
        var waitedMs = 0
        while waitedMs < Limits.backupSnapshotWaitMs {
            if waitedMs % Limits.backupSignalRepeatMs == 0 && !OtherProcess.signal(pid, SignalWatcher.userSignal) {
                throw CommandLineError("the node serving \(data) (pid \(pid)) cannot be signalled (SIGUSR1): run the backup as its user or root")
            }
            if FileSystem.isDirectory(snapshot) { return snapshot }
            OtherProcess.sleep(ms: Limits.backupSnapshotPollMs)
            waitedMs += Limits.backupSnapshotPollMs
        }
        throw CommandLineError("the node serving \(data) (pid \(pid)) made no snapshot within \(Limits.backupSnapshotWaitMs / 1000) s "
            + "(a release before backups ignores SIGUSR1; its log says why otherwise)")
    }

    // MARK: restore

    private static func restore(backup: String, data: String, rules: TombstoneRules, wholeCluster: Bool) throws {
        let manifestPath = backup + "/" + BackupListing.manifestName
        guard FileSystem.exists(manifestPath) else {
            throw CommandLineError("\(backup) holds no \(BackupListing.manifestName): not a finished backup (a backup writes it last)")
        }
        let manifest: BackupListing
        do {
            manifest = try BackupListing.parse(try FileSystem.readTextFile(manifestPath), kind: .backup)
        } catch let error as BackupListingError {
            throw CommandLineError("\(manifestPath) \(error)")
        }
        let now = WallClock.nowMs()
        if !wholeCluster && !rules.isRestorable(takenUnixMs: manifest.takenUnixMs, nowUnixMs: now) {
            throw CommandLineError("the backup in \(backup) was taken \(age(now - manifest.takenUnixMs)) ago; restored into a running "
                + "cluster it could bring back keys deleted since, whose tombstones the peers may have collected (--tombstone-grace-ms "
                + "\(rules.graceMs), less a tenth for the node to catch up). Restore a newer backup, or start the node empty and let "
                + "it refill from its peers; restore every node of the cluster from one backup run with --whole-cluster")
        }
        try FileSystem.makeDirectory(data)
        if case .holder(let holder) = try FileSystem.tryLockDirectory(data, role: "restore") {
            throw CommandLineError("\(data) is in use (\(holder.isEmpty ? "its LOCK is held" : "pid \(holder)")): stop its node first (scripts/stopNode.bash HOST PORT)")
        }
        let setAside = try setAsideEarlierFiles(data, now: now)
        let marker = data + "/" + restoringMarkerName
        try FileSystem.writeFileAtomically(marker, Array("restoring \(backup)\n".utf8))
        for file in manifest.files {
            try restoreFile(file, from: backup, into: data)
        }
        let alive = wholeCluster ? now : manifest.takenUnixMs
        try FileSystem.writeFileAtomically(data + "/" + TombstoneCollector.aliveFileName, Array("\(alive)\n".utf8))
        try FileSystem.removeFile(marker)
        try FileSystem.syncDirectory(data)
        let bytes = manifest.files.reduce(0) { $0 + $1.bytes }
        Output.printLine("restored \(manifest.files.count) files (\(bytes) bytes) of the backup taken at "
            + "\(Timestamp.iso8601(unixMs: manifest.takenUnixMs)) into \(data)" + (setAside.map { "; its earlier files are in \($0)" } ?? ""))
    }

    /// Moves what a node left in `data` (its log, hint, id, stamps) into before-restore-MS/.
    private static func setAsideEarlierFiles(_ data: String, now: Int64) throws -> String? {
        let earlier = try FileSystem.listDirectory(data).filter {
            $0 != "LOCK" && !$0.hasPrefix(setAsidePrefix) && !FileSystem.isDirectory(data + "/" + $0)
        }
        guard !earlier.isEmpty else { return nil }
        let aside = data + "/" + setAsidePrefix + String(now)
        try FileSystem.makeDirectory(aside)
        for name in earlier { try FileSystem.rename(data + "/" + name, to: aside + "/" + name) }
        try FileSystem.syncDirectory(data)
        return aside
    }

    /// Copies one file of the backup, checking its size and checksum against the manifest.
    private static func restoreFile(_ file: BackupListing.File, from backup: String, into data: String) throws {
        let source = backup + "/" + file.name
        let size = try FileSystem.fileSize(source)
        guard size == file.bytes else {
            throw CommandLineError("\(source) is \(size) bytes, the manifest says \(file.bytes): the backup is damaged; \(data) is left "
                + "unfinished (\(restoringMarkerName)), restore another backup")
        }
        var crc: UInt32 = 0
        try FileSystem.copyPrefix(source, count: file.bytes, to: data + "/" + file.name, chunkBytes: Limits.backupCopyChunkBytes) {
            crc = CRC32C.update(crc, $0, 0..<$0.count)
        }
        guard crc == file.crc else {
            throw CommandLineError("\(source): its checksum differs from the manifest's: the backup is damaged; \(data) is left "
                + "unfinished (\(restoringMarkerName)), restore another backup")
        }
    }

    private static func age(_ ms: Int64) -> String {
        ms < 86_400_000 ? "\(ms / 1000) s" : "\(ms / 86_400_000).\(ms % 86_400_000 / 8_640_000) days"
    }
}
