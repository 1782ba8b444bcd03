// A serving node's side of a backup (docs/DECISIONS.md, "Backups while serving"): a snapshot
// of its data directory made of hard links, in one loop callback, for `linkring-node backup`
// (BackupTool.swift) to copy at its own pace.
//
//   backup: DATA/backup-request.ID ─▶ SIGUSR1 to the pid in DATA/LOCK (repeated until answered)
//   node, on SIGUSR1 (and once when it starts serving), for each request, on the loop:
//     mkdir DATA/backup-snapshot.ID.partial ─▶ hard link every file BackupSnapshotRule takes
//     ─▶ stat each link ─▶ SNAPSHOT: names, lengths (the active segment at the log's committed
//     bytes) and the time ─▶ rename to DATA/backup-snapshot.ID ─▶ remove the request
//   backup: copies each file's listed bytes, writes its MANIFEST, removes the snapshot
//
// Why it is consistent. A sealed segment's file never changes: a compaction writes a new file
// and renames it over the name, which a link made before does not follow; after the rename the
// new file lacks only records superseded by records the index already pointed at, which were
// durable, so are in an older link or before the committed bytes. The active segment only grows
// (a failed batch is cut back to its start, which is past the committed bytes). Links, the
// committed bytes and the segment table are all read in this one callback, between batches'
// completions, so they describe one instant. The loop pauses for a mkdir, a few links and
// stats, and two small writes: tens of microseconds (logged; docs/BENCHMARKS.md).
//
// A snapshot a backup never removed (it died) holds disk (its links keep replaced segments):
// removed once older than `Limits.backupSnapshotLifetimeMs`, at start and at each snapshot.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class BackupSnapshots {
    static let requestPrefix = "backup-request."
    static let snapshotPrefix = "backup-snapshot."
    static let partialSuffix = ".partial"

    private let loop: EventLoop
    private let directory: String
    private let commitLog: CommitLog
    private let segments: LogSegments
    private var watcher: SignalWatcher?
    private(set) var taken = 0

    init(loop: EventLoop, directory: String, commitLog: CommitLog, segments: LogSegments) {
        self.loop = loop
        self.directory = directory
        self.commitLog = commitLog
        self.segments = segments
    }

    /// Watches SIGUSR1 and answers any request made while the node was starting.
    func start() throws {
        watcher = try SignalWatcher(loop: loop, signal: SignalWatcher.userSignal) { [unowned self] in self.answerRequests() }
        answerRequests()
    }

    /// Stops watching; a backup's SIGUSR1 during the rest of the stop is ignored, not fatal.
    func close() {
        watcher?.close()
        watcher = nil
        SignalWatcher.ignore(SignalWatcher.userSignal)
    }

    private func answerRequests() {
        guard let names = try? FileSystem.listDirectory(directory) else { return }
        removeExpired(names)
        for name in names where name.hasPrefix(Self.requestPrefix) {
            let id = String(name.dropFirst(Self.requestPrefix.count))
            try? FileSystem.removeFile(directory + "/" + name)
            guard BackupListing.isPlainName(id) else { continue }
            do {
                try snapshot(id: id)
            } catch {
                Log.warning("backup snapshot \(id) not taken: \(error)")
            }
        }
    }

    /// The snapshot for request `id` (see the file comment).
    private func snapshot(id: String) throws {
        let startedNs = MonotonicClock.nowNs()
        let target = directory + "/" + Self.snapshotPrefix + id
        let partial = target + Self.partialSuffix
        try FileSystem.makeDirectory(partial)
        let active = segments.sequence(of: commitLog.segment)
        let committed = commitLog.activeBytes
        var files: [BackupListing.File] = []
        for name in try FileSystem.listDirectory(directory).sorted() {
            let length = BackupSnapshotRule.length(of: name, activeSequence: active, committedBytes: committed)
            guard length != .skip else { continue }
            do {
                try FileSystem.link(directory + "/" + name, to: partial + "/" + name)
            } catch let error as UVError where error.code == -2 {
                continue  // removed since the listing (a compaction emptied that segment): nothing in it was needed
            }
            let bytes: Int
            if case .prefix(let prefix) = length { bytes = prefix } else { bytes = try FileSystem.fileSize(partial + "/" + name) }
            files.append(BackupListing.File(name: name, bytes: bytes))
        }
        let listing = BackupListing(kind: .snapshot, takenUnixMs: WallClock.nowMs(), files: files)
        try FileSystem.writeFileUnsynced(partial + "/" + BackupListing.snapshotName, Array(listing.encode().utf8))
        try FileSystem.rename(partial, to: target)
        taken += 1
        Log.info("backup snapshot \(target): \(files.count) files, segment \(active) at its committed \(committed) bytes, "
            + "taken in \((MonotonicClock.nowNs() - startedNs) / 1000) µs")
    }

    /// Removes snapshots a backup left behind (older than the lifetime, or never finished).
    private func removeExpired(_ names: [String]) {
        let now = WallClock.nowMs()
        for name in names where name.hasPrefix(Self.snapshotPrefix) {
            let path = directory + "/" + name
            if !name.hasSuffix(Self.partialSuffix),
               let text = try? FileSystem.readTextFile(path + "/" + BackupListing.snapshotName),
               let listing = try? BackupListing.parse(text, kind: .snapshot),
               now - listing.takenUnixMs <= Limits.backupSnapshotLifetimeMs {
                continue
            }
            Self.removeSnapshot(path)
            Log.warning("\(path): removed a backup snapshot no backup collected (older than "
                + "\(Limits.backupSnapshotLifetimeMs / 60_000) min, or unfinished)")
        }
    }

    /// Removes a snapshot directory: its links, then itself.
    static func removeSnapshot(_ path: String) {
        for name in (try? FileSystem.listDirectory(path)) ?? [] { try? FileSystem.removeFile(path + "/" + name) }
        try? FileSystem.removeDirectory(path)
    }
}
