// The hint file with the real node: a clean stop writes it and the next start loads the index
// from it (no replay) and keeps it: a kill -9 later restarts from it and replays only what
// was appended since; a damaged hint, or the state a kill -9 during its write can leave (a
// partial linkring.hint.new, no linkring.hint), makes the node replay the log and say so;
// after a compaction the hint still names every record. No acknowledged write is lost on any
// of these paths.

import Foundation
import Glibc
import Testing

@Suite("Hint file (real binary)")
struct HintFileTests {
    static let keys = 300

    /// Writes `keys` keys, overwrites a third, deletes every tenth.
    func fill(_ port: Int) throws -> [String: String?] {
        let client = try TestClient(port: port)
        var expected: [String: String?] = [:]
        for key in 0..<Self.keys {
            #expect(try client.request("PUT", "/?short=h\(key)&long=http://h/\(key)").status == 200)
            expected["h\(key)"] = "http://h/\(key)"
        }
        for key in stride(from: 0, to: Self.keys, by: 3) {
            #expect(try client.request("PUT", "/?short=h\(key)&long=http://again/\(key)").status == 200)
            expected["h\(key)"] = "http://again/\(key)"
        }
        for key in stride(from: 0, to: Self.keys, by: 10) {
            #expect(try client.request("DELETE", "/h\(key)").status == 200)
            expected["h\(key)"] = .some(nil)
        }
        return expected
    }

    @Test("a clean stop writes the hint; the next start loads it and serves every key; after a kill -9 it still serves, replaying only the records appended since")
    func cleanStopThenHint() throws {
        let (node, data) = try startNode()
        var expected = try fill(node.port)
        #expect(node.stop() == 0)
        #expect(FileManager.default.fileExists(atPath: data + "/linkring.hint"))
        let dump = try runToExit(Binaries.node, ["dump", data + "/linkring.hint"])
        #expect(dump.code == 0 && dump.output.contains("\(Self.keys) entries") && dump.output.contains("# checksum ok"))
        #expect(dump.output.split(separator: "\n").filter { $0.hasSuffix(" delete") }.count == Self.keys / 10)
        let (again, _) = try startNode(data: data)
        #expect(again.errors.contains("entries loaded"))
        try expectServedValues(expected, port: again.port)
        #expect(try request(again.port, "PUT", "/?short=late&long=http://late").status == 200)
        #expect(try request(again.port, "DELETE", "/h1").status == 200)
        expected["late"] = "http://late"
        expected["h1"] = .some(nil)
        again.kill9()
        let (third, _) = try startNode(data: data)
        defer { third.stop() }
        #expect(third.errors.contains("entries loaded") && third.errors.contains("replayed 2 records"), "\(third.errors)")
        try expectServedValues(expected, port: third.port)
    }

    @Test("a hint damaged anywhere, or a kill -9 during its write, makes the node replay and say so", arguments: [
        "flip-first", "flip-middle", "flip-last", "truncate", "partial-new",
    ])
    func damagedHint(damage: String) throws {
        let (node, data) = try startNode()
        let expected = try fill(node.port)
        #expect(node.stop() == 0)
        let hint = data + "/linkring.hint"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: hint)))
        switch damage {
        case "flip-first": bytes[0] ^= 1
        case "flip-middle": bytes[bytes.count / 2] ^= 1
        case "flip-last": bytes[bytes.count - 1] ^= 1
        case "truncate": bytes.removeLast(7)
        default:
            // What a kill -9 before the rename leaves: part of linkring.hint.new, no linkring.hint.
            try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: hint + ".new"))
            try FileManager.default.removeItem(atPath: hint)
        }
        if damage != "partial-new" { try Data(bytes).write(to: URL(fileURLWithPath: hint)) }
        let (again, _) = try startNode(data: data)
        defer { again.stop() }
        #expect(again.errors.contains("replaying the log"))
        #expect(!again.errors.contains("entries loaded"))
        #expect(!FileManager.default.fileExists(atPath: hint + ".new"))
        try expectServedValues(expected, port: again.port)
    }

    @Test("after a compaction the hint names every record in the rewritten log")
    func hintAfterCompaction() throws {
        let (node, data) = try startNode(["--compact-min-bytes", "20000"])
        var expected = try fill(node.port)
        let client = try TestClient(port: node.port)
        var round = 0
        let deadline = Date().addingTimeInterval(20)
        while try request(node.port, "GET", "/_/health").body.contains("\"compactions\":0,") && Date() < deadline {
            let long = "http://over/\(round)"
            #expect(try client.request("PUT", "/?short=h1&long=\(long)").status == 200)
            expected["h1"] = long
            round += 1
        }
        #expect(node.errors.contains("compacted"))
        #expect(node.stop() == 0)
        let (again, _) = try startNode(data: data)
        defer { again.stop() }
        #expect(again.errors.contains("entries loaded"))
        try expectServedValues(expected, port: again.port)
    }
}
