// Backups (BackupListing.swift): the manifest and snapshot listings round-trip and refuse what
// they cannot read in full, line by line; the committed-offset rule takes sealed segments whole,
// the active one up to its committed bytes and nothing newer; a backup is restorable into one
// node only while younger than the grace period less its margin; the backup and restore
// command lines.

import Testing
@testable import LinkRingCore

@Suite("Backups")
struct BackupListingTests {
    static let manifest = BackupListing(kind: .backup, takenUnixMs: 1_795_722_335_005, files: [
        .init(name: "linkring-0000000001.log", bytes: 268_435_456, crc: 0x0a1b_2c3d),
        .init(name: "linkring-0000000002.log", bytes: 141, crc: 0),
        .init(name: "node-id", bytes: 17, crc: 0xffff_ffff),
    ])

    @Test("a manifest and a snapshot listing round-trip")
    func roundTrip() throws {
        let text = Self.manifest.encode()
        #expect(text == """
            linkring-backup 1
            taken-unix-ms 1795722335005
            file linkring-0000000001.log 268435456 crc32c=0a1b2c3d
            file linkring-0000000002.log 141 crc32c=00000000
            file node-id 17 crc32c=ffffffff
            end 3

            """)
        #expect(try BackupListing.parse(text, kind: .backup) == Self.manifest)
        let snapshot = BackupListing(kind: .snapshot, takenUnixMs: 5, files: [.init(name: "linkring.hint", bytes: 0)])
        #expect(try BackupListing.parse(snapshot.encode(), kind: .snapshot) == snapshot)
        #expect(try BackupListing.parse("linkring-backup 1\ntaken-unix-ms 7\nend 0", kind: .backup).files.isEmpty)  // no last newline
    }

    @Test("a listing cut at any byte is refused (the end line counts the files)")
    func cutAnywhere() {
        let text = Array(Self.manifest.encode().utf8)
        for cut in 0..<text.count - 1 {
            #expect(throws: BackupListingError.self, "cut at \(cut)") {
                try BackupListing.parse(String(decoding: text[..<cut], as: UTF8.self), kind: .backup)
            }
        }
    }

    @Test("what a listing may not hold is refused, naming the line", arguments: [
        ("", 1), ("linkring-backup 2\ntaken-unix-ms 1\nend 0\n", 1), ("linkring-snapshot 1\ntaken-unix-ms 1\nend 0\n", 1),
        ("linkring-backup 1\n", 1), ("linkring-backup 1\ntaken-unix-ms 1\n", 2),  // no end line
        ("linkring-backup 1\ntaken-unix-ms x\nend 0\n", 2), ("linkring-backup 1\ntaken-unix-ms -1\nend 0\n", 2),
        ("linkring-backup 1\nend 0\n", 2), ("linkring-backup 1\ntaken-unix-ms 1\nend 1\n", 3),
        ("linkring-backup 1\ntaken-unix-ms 1\ntaken-unix-ms 2\nend 1\n", 3),
        ("linkring-backup 1\ntaken-unix-ms 1\nfile a 1\nend 1\n", 3),  // no checksum in a backup
        ("linkring-backup 1\ntaken-unix-ms 1\nfile a 1 crc32c=123\nend 1\n", 3),
        ("linkring-backup 1\ntaken-unix-ms 1\nfile a 1 crc32c=0000000g\nend 1\n", 3),
        ("linkring-backup 1\ntaken-unix-ms 1\nfile a -1 crc32c=00000000\nend 1\n", 3),
        ("linkring-backup 1\ntaken-unix-ms 1\nfile ../a 1 crc32c=00000000\nend 1\n", 3),
        ("linkring-backup 1\ntaken-unix-ms 1\nfile .. 1 crc32c=00000000\nend 1\n", 3),
        ("linkring-backup 1\ntaken-unix-ms 1\nfile a 1 crc32c=00000000\nfile a 2 crc32c=00000000\nend 2\n", 4),
        ("linkring-backup 1\ntaken-unix-ms 1\n\nend 1\n", 3), ("linkring-backup 1\ntaken-unix-ms 1\nsize 3\nend 1\n", 3),
    ])
    func refused(text: String, line: Int) {
        #expect(throws: BackupListingError.self) { try BackupListing.parse(text, kind: .backup) }
        do {
            _ = try BackupListing.parse(text, kind: .backup)
        } catch {
            #expect(error.line == line, "\(error)")
        }
    }

    @Test("a snapshot listing carries no checksums")
    func snapshotWithoutChecksums() {
        #expect(throws: BackupListingError.self) {
            try BackupListing.parse("linkring-snapshot 1\ntaken-unix-ms 1\nfile a 1 crc32c=00000000\nend 1\n", kind: .snapshot)
        }
    }

    @Test("the committed-offset rule: sealed whole, the active up to its committed bytes, newer and other files left out")
    func snapshotRule() {
        let rule = { (name: String) in BackupSnapshotRule.length(of: name, activeSequence: 3, committedBytes: 4096) }
        #expect(rule(SegmentLayout.fileName(1)) == .whole)
        #expect(rule(SegmentLayout.fileName(2)) == .whole)
        #expect(rule(SegmentLayout.fileName(3)) == .prefix(4096))
        #expect(rule(SegmentLayout.fileName(4)) == .skip)  // a roll-over's new file
        for companion in ["linkring.hint", "node-id", "membership"] { #expect(rule(companion) == .whole) }
        for other in ["LOCK", "linkring.alive", "linkring.hint.new", "linkring-0000000002.log.compact", "RESTORING",
                      "linkring-0000000001.log.stale-5", "backup-snapshot.1-2", "backup-request.1-2", "before-restore-5"] {
            #expect(rule(other) == .skip, "\(other)")
        }
    }

    @Test("a backup restores into one node only while younger than the grace period less a tenth")
    func restorable() {
        let rules = TombstoneRules(graceMs: 10_000)
        #expect(rules.isRestorable(takenUnixMs: 1_000, nowUnixMs: 1_000))
        #expect(rules.isRestorable(takenUnixMs: 1_000, nowUnixMs: 10_000))
        #expect(!rules.isRestorable(takenUnixMs: 1_000, nowUnixMs: 10_001))
        let standard = TombstoneRules()
        #expect(standard.isRestorable(takenUnixMs: 0, nowUnixMs: 9 * 86_400_000))
        #expect(!standard.isRestorable(takenUnixMs: 0, nowUnixMs: 9 * 86_400_000 + 1))
    }

    @Test("backup and restore command lines")
    func commandLines() throws {
        #expect(try NodeOptions.parse(["backup", "/d", "/b"])?.backupCommand == .backup(data: "/d", destination: "/b"))
        let restore = try #require(try NodeOptions.parse(["restore", "/b", "/d", "--whole-cluster", "--tombstone-grace-ms", "5000"]))
        #expect(restore.backupCommand == .restore(backup: "/b", data: "/d", wholeCluster: true) && restore.tombstones.graceMs == 5000)
        #expect(try NodeOptions.parse(["restore", "/b", "/d"])?.backupCommand == .restore(backup: "/b", data: "/d", wholeCluster: false))
        for refused in [["backup", "/d"], ["backup", "/d", "/b", "/c"], ["restore", "/b"], ["backup", "/d", "/b", "--whole-cluster"],
                        ["--listen", "h:1", "--data", "d", "--whole-cluster"], ["backup", "", "/b"]] {
            #expect(throws: CommandLineError.self, "\(refused)") { try NodeOptions.parse(refused) }
        }
    }
}
