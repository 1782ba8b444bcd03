// Crash points: the node's log writer cut at a chosen byte by its test hook
// (LINKRING_TEST_CRASH_AT_BYTE: write up to that byte, then SIGKILL, nothing synced or
// acknowledged). Looping the cut over every byte of the first writes: no acknowledged write
// is lost, the write that was cut is not visible (unless the bytes it lacked were zeros, as the
// preallocated space holds: then it is whole), and replay never fails on the torn tail.
// The hook exists only in binaries built with LINKRING_TEST_HOOKS (debug builds):
// `Binaries.nodeWithTestHooks`, never the release binary.

import Foundation
import Testing
import LinkRingCore

@Suite("Crash points (real binary)")
struct CrashPointTests {
    /// One run: write until the node dies at `cut`; restart; check what survived.
    static func run(cut: Int) throws -> (acked: Int, problems: [String]) {
        let data = makeTemporaryDirectory()
        let node = try ServerProcess.start(Binaries.nodeWithTestHooks, ["--listen", "127.0.0.1:0", "--data", data],
                                           environment: ["LINKRING_TEST_CRASH_AT_BYTE": "\(cut)"])
        var acked = 0
        if let client = try? TestClient(port: node.port) {
            for index in 0..<8 {
                guard let answer = try? client.request("PUT", "/?short=c\(index)&long=http://c/\(index)", timeoutMs: 3_000),
                      answer.status == 200 else { break }
                acked += 1
            }
        }
        var problems: [String] = []
        if !node.waitForExit(timeoutMs: 5_000) || node.exitCode != -9 {
            node.kill9()
            problems.append("cut \(cut): the node did not die at the cut (exit \(node.exitCode))")
            if node.errors.contains("without test hooks") {
                problems.append("\(Binaries.nodeWithTestHooks) has no test hooks: point LINKRING_HOOKS_BIN_DIR at a debug build")
            }
        }
        // A cut inside a record's checksum whose missing bytes are zero leaves the whole record on
        // disk (the segment's space is preallocated with zeros): about one cut in 256 at the
        // checksum's last byte. Such a record is written, not torn, and replay must show it.
        let whole = try wholeRecords(inSegmentOf: data)
        if acked > whole { problems.append("cut \(cut): \(acked) write(s) acknowledged, \(whole) whole on disk") }
        let again = try ServerProcess.start(Binaries.nodeWithTestHooks, ["--listen", "127.0.0.1:0", "--data", data])
        defer { again.stop() }
        for index in 0..<8 {
            let answer = try request(again.port, "GET", "/c\(index)")
            if index < max(acked, whole) && answer.headers["location"] != "http://c/\(index)" {
                problems.append("cut \(cut): \(index < acked ? "acknowledged" : "whole") c\(index) lost (\(answer.status))")
            }
            if index >= max(acked, whole) && answer.status != 404 { problems.append("cut \(cut): unacknowledged c\(index) is visible") }
        }
        return (acked, problems)
    }

    /// The records of the data directory's first segment that replay keeps, read as start-up reads it.
    static func wholeRecords(inSegmentOf data: String) throws -> Int {
        guard let contents = FileManager.default.contents(atPath: data + "/linkring-0000000001.log") else { return 0 }
        return try LogReplay.replay([UInt8](contents), skipCorrupt: false) { _ in }.get().records
    }

    @Test("a crash inside a record written into preallocated zeros: the tail is cut, acknowledged writes stay; at a record's end the zeros are kept")
    func cutInPreallocatedSpace() throws {
        let header = 8, record = 20 + 2 + 10  // key "cN", value "http://c/N"
        for (cut, isInsideRecord) in [(header + 2 * record + 5, true), (header + 2 * record, false)] {
            let data = makeTemporaryDirectory()
            let segment = data + "/linkring-0000000001.log"
            let node = try ServerProcess.start(Binaries.nodeWithTestHooks, ["--listen", "127.0.0.1:0", "--data", data],
                                               environment: ["LINKRING_TEST_CRASH_AT_BYTE": "\(cut)"])
            var acked = 0
            let client = try TestClient(port: node.port)
            for index in 0..<3 {
                guard let answer = try? client.request("PUT", "/?short=c\(index)&long=http://c/\(index)", timeoutMs: 3_000),
                      answer.status == 200 else { break }
                acked += 1
            }
            #expect(node.waitForExit(timeoutMs: 5_000) && node.exitCode == -9, "the node dies at byte \(cut)")
            #expect(acked == 2)
            let crashed = try fileSize(segment)
            #expect(crashed >= Limits.logPreallocationBytes / 2, "the first batch wrote zeros ahead: \(crashed) bytes")
            let again = try ServerProcess.start(Binaries.nodeWithTestHooks, ["--listen", "127.0.0.1:0", "--data", data])
            for index in 0..<3 {
                let answer = try request(again.port, "GET", "/c\(index)")
                #expect(index < acked ? answer.headers["location"] == "http://c/\(index)" : answer.status == 404, "c\(index) after cut \(cut)")
            }
            #expect(again.errors.contains("torn tail") == isInsideRecord, "a torn tail only when a record was cut: \(again.errors)")
            let kept = try fileSize(segment)
            #expect(isInsideRecord ? kept == header + 2 * record : kept == crashed, "cut \(cut): \(kept) bytes after the restart")
            #expect(try request(again.port, "PUT", "/?short=c2&long=http://c/2").status == 200)
            #expect(again.stop() == 0)
            let stopped = try fileSize(segment)
            #expect(stopped == header + 3 * record, "a clean stop leaves exactly the records: \(stopped) bytes")
        }
    }

    private func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
    }

    @Test("a log cut at every byte of its first writes loses no acknowledged write and always replays")
    func everyCutPoint() throws {
        let header = 8
        let firstFourRecords = 4 * (20 + 2 + 10)  // key "cN", value "http://c/N"
        let cuts = Array(header...(header + firstFourRecords))
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for cut in stride(from: header + worker, through: header + firstFourRecords, by: 4) {
                do {
                    let (acked, problems) = try Self.run(cut: cut)
                    results.add(cut: cut, acked: acked, problems: problems)
                } catch {
                    results.add(cut: cut, acked: -1, problems: ["cut \(cut): \(error)"])
                }
            }
        }
        #expect(results.problems.isEmpty, "\(results.problems.prefix(5))")
        #expect(results.runs == cuts.count)
        #expect(results.ackedAt(header) == 0 && results.ackedAt(header + firstFourRecords) == 4,
                "the cut decides how many writes were acknowledged")
    }
}

final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var acked: [Int: Int] = [:]
    private(set) var problems: [String] = []
    var runs: Int { lock.withLock { acked.count } }

    func add(cut: Int, acked count: Int, problems found: [String]) {
        lock.withLock {
            acked[cut] = count
            problems += found
        }
    }

    func ackedAt(_ cut: Int) -> Int? { lock.withLock { acked[cut] } }
}
