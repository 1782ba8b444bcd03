// Log compaction with the real node: overwrites make the log grow past its live records; the
// node rewrites it in the background while two clients keep writing, every acknowledged
// value survives (also a kill -9 right after), and a .compact file left by a crash during a
// rewrite is removed at start-up without touching the log.

import Foundation
import Testing

@Suite("Log compaction (real binary)")
struct CompactionTests {
    static let minBytes = 20_000

    @Test("the log is rewritten to its live records while writes go on; kill -9 afterwards loses nothing")
    func compactsUnderWrites() throws {
        let (node, data) = try startNode(["--compact-min-bytes", "\(Self.minBytes)"])
        let expected = Locked<[String: String?]>([:])
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { writer in
            do {
                let client = try TestClient(port: node.port)
                for round in 0..<40 {
                    for key in 0..<40 {
                        let name = "w\(writer)k\(key)"
                        if key % 10 == 9 && round % 5 == 4 {
                            let status = try client.request("DELETE", "/\(name)").status
                            guard status == 200 || status == 404 else { throw HarnessError("DELETE \(name): \(status)") }
                            expected.update { $0[name] = .some(nil) }
                        } else {
                            let long = "http://v/\(name)/\(round)"
                            let status = try client.request("PUT", "/?short=\(name)&long=\(long)").status
                            guard status == 200 else { throw HarnessError("PUT \(name): \(status)") }
                            expected.update { $0[name] = long }
                        }
                    }
                }
            } catch {
                failures.update { $0.append("writer \(writer): \(error)") }
            }
        }
        #expect(failures.value.isEmpty, "\(failures.value)")
        // Segments are rewritten one at a time (the active one sealed first), a check a second:
        // once writes stop, the log shrinks below --compact-min-bytes (its records are about
        // one per key, 80 keys), which it passed many times over.
        let health = try waitForHealth(node.port, timeoutMs: 15_000) {
            $0["compactions"]! >= 1 && $0["compacting"]! == 0 && $0["logBytes"]! < Self.minBytes
        }
        #expect(health["recordBytes"]! < 40 * 80 * 2, "one record per key: \(health)")
        #expect(node.errors.contains("compacted"))
        try expectServedValues(expected.value, port: node.port)
        node.kill9()
        let (again, _) = try startNode(data: data)
        defer { again.stop() }
        #expect(!again.errors.contains("torn tail") && !again.errors.contains("corrupt"))
        try expectServedValues(expected.value, port: again.port)
    }

    @Test("a .compact file left by a crash during a rewrite is removed at start-up; the log is whole")
    func unfinishedRewriteIsRemoved() throws {
        let (node, data) = try startNode()
        #expect(try request(node.port, "PUT", "/?short=kept&long=http://kept").status == 200)
        #expect(node.stop() == 0)
        let leftover = data + "/linkring-0000000001.log.compact"
        #expect(FileManager.default.createFile(atPath: leftover, contents: Data("LINKRNG1 half a rewrite".utf8)))
        let (again, _) = try startNode(data: data)
        defer { again.stop() }
        #expect(again.errors.contains("removing an unfinished compaction"))
        #expect(!FileManager.default.fileExists(atPath: leftover))
        #expect(try request(again.port, "GET", "/kept").headers["location"] == "http://kept")
    }

    @Test("compaction options are checked")
    func options() throws {
        let bad = try runToExit(Binaries.node, ["--listen", "127.0.0.1:0", "--data", makeTemporaryDirectory(), "--compact-ratio", "1"])
        #expect(bad.code == 2 && bad.output.contains("--compact-ratio must be"))
    }

    /// Polls /_/health until `done` holds for its numbers (booleans as 0/1); returns them.
    private func waitForHealth(_ port: Int, timeoutMs: Int, _ done: ([String: Int]) -> Bool) throws -> [String: Int] {
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        var last: [String: Int] = [:]
        while Date() < deadline {
            last = healthNumbers(try request(port, "GET", "/_/health").body)
            if done(last) { return last }
            usleep(100_000)
        }
        throw HarnessError("health did not reach the expected state: \(last)")
    }

    private func healthNumbers(_ body: String) -> [String: Int] {
        var numbers: [String: Int] = [:]
        for name in ["logBytes", "recordBytes", "compactions", "compacting"] {
            guard let range = body.range(of: "\"\(name)\":") else { continue }
            let rest = body[range.upperBound...]
            if rest.hasPrefix("true") { numbers[name] = 1 } else if rest.hasPrefix("false") { numbers[name] = 0 }
            else { numbers[name] = Int(rest.prefix { $0.isNumber }) }
        }
        return numbers
    }
}

/// A value shared between threads under a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value { lock.withLock { stored } }

    func update(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}

/// Expects every key of `expected` to be served as given: its long URL, or 404 (deleted).
func expectServedValues(_ expected: [String: String?], port: Int) throws {
    let client = try TestClient(port: port)
    for (key, value) in expected {
        let answer = try client.request("GET", "/\(key)")
        if let value {
            #expect(answer.status == 307 && answer.headers["location"] == value, "\(key)")
        } else {
            #expect(answer.status == 404, "\(key) was deleted")
        }
    }
}
