// Backups of a serving node with the real binary (docs/DECISIONS.md, "Backups while serving"):
// while two clients overwrite keys (small segments: roll-overs; a low compaction threshold:
// sealed segments rewritten and renamed under the snapshot's links), backups are taken one
// after another, on until one follows a completed compaction; each, restored into a new directory, serves every write acknowledged before
// it began (the value then, or a later one), and no key deleted before it. The node removes no
// acknowledged write for a backup and leaves no snapshot behind.

import Foundation
import Testing

@Suite("Backups (real binary)")
struct BackupTests {
    static let keys = 80
    static let rounds = 200
    static let backupsMin = 6
    static let backupsMax = 40

    @Test("backups taken during writes, roll-overs and compactions each hold every write acknowledged before they began")
    func backupsUnderWrites() throws {
        let (node, data) = try startNode(["--segment-bytes", "65536", "--compact-min-bytes", "20000"])
        defer { node.stop() }
        for key in 0..<10 {
            #expect(try request(node.port, "PUT", "/?short=gone\(key)&long=http://gone").status == 200)
            #expect(try request(node.port, "DELETE", "/gone\(key)").status == 200)
        }
        // Key k is always written by worker k % 2 (runWrites strides), so its SEQs are acknowledged in order.
        let ops = (0..<Self.rounds).flatMap { round in (0..<Self.keys).map { WriteOp.put("k\($0)", seq: round) } }
        let ledger = Ledger()
        let writers = DispatchGroup()
        DispatchQueue.global().async(group: writers) { runWrites(port: node.port, ops, workers: 2, ledger: ledger) }
        var taken: [(directory: String, before: [String: Int])] = []
        var whileWriting = 0
        // Backups every 100 ms while the writes go on, and on until one follows a compaction
        // (checked once a second): then some snapshot linked a segment a rewrite had replaced.
        let deadline = Date().addingTimeInterval(30)
        while taken.count < Self.backupsMax && Date() < deadline {
            let isWriting = writers.wait(timeout: .now() + .milliseconds(100)) == .timedOut
            if !isWriting && taken.count >= Self.backupsMin && backupFollowsCompaction(node.errors) { break }
            let before = ledger.ackedSeqs()
            let destination = makeTemporaryDirectory() + "/backup"
            let result = try runToExit(Binaries.node, ["backup", data, destination])
            #expect(result.code == 0 && result.output.contains("its node serving"), "\(result.output)")
            taken.append((destination, before))
            if isWriting { whileWriting += 1 }
        }
        writers.wait()
        #expect(ledger.writeFailures.isEmpty, "\(ledger.writeFailures)")
        #expect(whileWriting >= 3, "\(whileWriting) backups while the writes went on")
        #expect(node.errors.contains("sealed at") && backupFollowsCompaction(node.errors), "\(node.errors)")
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: data).contains { $0.hasPrefix("backup-") }), "a snapshot was left")
        for (number, backup) in taken.enumerated() {
            try expectRestored(backup.directory, holds: backup.before, number: number)
        }
    }

    /// Whether the node's log shows a backup snapshot after a completed compaction.
    private func backupFollowsCompaction(_ log: String) -> Bool {
        guard let compacted = log.range(of: "INFO compacted "), let snapshot = log.range(of: "backup snapshot", options: .backwards) else { return false }
        return compacted.lowerBound < snapshot.lowerBound
    }

    /// Restores `backup` into a new directory and checks a node started on it.
    private func expectRestored(_ backup: String, holds before: [String: Int], number: Int) throws {
        let data = makeTemporaryDirectory() + "/restored"
        let restored = try runToExit(Binaries.node, ["restore", backup, data])
        #expect(restored.code == 0, "\(restored.output)")
        let (node, _) = try startNode(data: data)
        defer { node.stop() }
        #expect(!node.errors.contains("corrupt") && !node.errors.contains("torn"), "backup \(number): \(node.errors)")
        let client = try TestClient(port: node.port)
        for (key, round) in before {
            let answer = try client.request("GET", "/\(key)")
            let served = answer.headers["location"].flatMap { $0.split(separator: "/").last.flatMap { Int($0) } }
            #expect(answer.status == 307 && (served ?? -1) >= round, "backup \(number): \(key) acknowledged at round \(round), serves \(answer.status) \(served ?? -1)")
        }
        for key in 0..<10 {
            #expect(try client.request("GET", "/gone\(key)").status == 404, "backup \(number): gone\(key) came back")
        }
    }
}
