// The log in segments with the real node: the active segment rolls over at --segment-bytes and
// every key is served across segments, after a clean stop and after a kill -9; `dump DIR`
// prints every segment in order; an earlier release's linkring.log is converted to segment 1,
// and refused beside segments; a sealed segment with a damaged end is refused (it was synced
// whole), unless --skip-corrupt.

import Foundation
import LinkRingCore
import Testing

@Suite("Log segments (real binary)")
struct SegmentLayoutTests {
    static let segmentBytes = 65_536

    func segmentNames(_ data: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: data).filter { $0.hasPrefix("linkring-") && $0.hasSuffix(".log") }.sorted()
    }

    /// Writes `count` distinct keys (about 60 bytes a record) and returns them.
    func fill(_ port: Int, count: Int) throws -> [String: String?] {
        let client = try TestClient(port: port)
        var expected: [String: String?] = [:]
        for key in 0..<count {
            let long = "http://segments.example/\(key)"
            #expect(try client.request("PUT", "/?short=s\(key)&long=\(long)").status == 200)
            expected["s\(key)"] = long
        }
        return expected
    }

    @Test("the active segment rolls over at --segment-bytes; every key is served from every segment, after a stop and after a kill -9")
    func rollOver() throws {
        // Compaction off (--compact-min-bytes is far above the log): only roll-over makes segments.
        let (node, data) = try startNode(["--segment-bytes", "\(Self.segmentBytes)", "--compact-min-bytes", "1000000000"])
        var expected = try fill(node.port, count: 4_000)
        let names = try segmentNames(data)
        #expect(names.count >= 3 && names.first == "linkring-0000000001.log", "\(names)")
        for name in names.dropLast() {
            let size = try FileManager.default.attributesOfItem(atPath: data + "/" + name)[.size] as! Int
            #expect(size >= Self.segmentBytes && size < Self.segmentBytes + 4_096, "sealed \(name) at \(size) bytes")
        }
        #expect(node.errors.contains("log segment 1 sealed at"))
        try expectServedValues(expected, port: node.port)
        #expect(node.stop() == 0)
        let (again, _) = try startNode(data: data, ["--segment-bytes", "\(Self.segmentBytes)"])
        #expect(again.errors.contains("entries loaded"))
        try expectServedValues(expected, port: again.port)
        // More writes roll over again; a kill -9 then restarts from the kept hint plus a replay.
        let client = try TestClient(port: again.port)
        for key in 0..<1_500 {
            let long = "http://after.example/\(key)"
            #expect(try client.request("PUT", "/?short=s\(key)&long=\(long)").status == 200)
            expected["s\(key)"] = long
        }
        #expect(try segmentNames(data).count > names.count)
        again.kill9()
        let (third, _) = try startNode(data: data)
        defer { third.stop() }
        #expect(third.errors.contains("entries loaded") && !third.errors.contains("torn tail"), "\(third.errors)")
        try expectServedValues(expected, port: third.port)
        let dump = try runToExit(Binaries.node, ["dump", data])
        #expect(dump.code == 0)
        let headers = dump.output.split(separator: "\n").filter { $0.hasPrefix("# ") && $0.contains("linkring-") && $0.hasSuffix(" bytes") }
        #expect(headers.count == (try segmentNames(data)).count && headers.first?.contains("linkring-0000000001.log") == true)
        #expect(dump.output.contains(" put s3999 http://segments.example/3999") && dump.output.contains(" put s0 http://after.example/0"))
    }

    @Test("an earlier release's linkring.log becomes segment 1; beside segments it is refused, naming both")
    func legacyLog() throws {
        let data = makeTemporaryDirectory()
        let records = (0..<50).map { LogRecord(version: UInt64(1_000 + $0) << 22, op: .put, key: Array("old\($0)".utf8), value: Array("http://old/\($0)".utf8)) }
        try writeLog(records, toDirectory: data)
        let (node, _) = try startNode(data: data)
        #expect(node.errors.contains("converted to linkring-0000000001.log"))
        #expect(try segmentNames(data) == ["linkring-0000000001.log"] && !FileManager.default.fileExists(atPath: data + "/linkring.log"))
        try expectServedValues(Dictionary(uniqueKeysWithValues: (0..<50).map { ("old\($0)", "http://old/\($0)") }), port: node.port)
        #expect(node.stop() == 0)
        try Data(LogRecord.fileMagic).write(to: URL(fileURLWithPath: data + "/linkring.log"))
        let refused = try runToExit(Binaries.node, ["--listen", "127.0.0.1:0", "--data", data])
        #expect(refused.code == 1 && refused.output.contains("linkring.log (the log of an earlier release) lies beside log segments"),
                "\(refused.output)")
    }

    @Test("a new segment the roll-over left as zeros only (killed before its header) is begun again; every key is served")
    func segmentWithoutHeader() throws {
        let (node, data) = try startNode(["--segment-bytes", "\(Self.segmentBytes)", "--compact-min-bytes", "1000000000"])
        var expected = try fill(node.port, count: 300)
        #expect(node.stop() == 0)
        let names = try segmentNames(data)
        let next = data + "/" + SegmentLayout.fileName(UInt32(names.count + 1))
        #expect(FileManager.default.createFile(atPath: next, contents: Data(count: Limits.logPreallocationBytes)))
        let (again, _) = try startNode(data: data, ["--segment-bytes", "\(Self.segmentBytes)"])
        defer { again.stop() }
        #expect(!again.errors.contains("torn tail"), "zeros are not a torn tail: \(again.errors)")
        try expectServedValues(expected, port: again.port)
        #expect(try request(again.port, "PUT", "/?short=after&long=http://after").status == 200)
        expected["after"] = "http://after"
        #expect(again.stop() == 0)
        let header = Array((FileManager.default.contents(atPath: next) ?? Data()).prefix(LogRecord.fileMagic.count))
        #expect(header == LogRecord.fileMagic, "the segment begins with its header again")
        let (third, _) = try startNode(data: data, [])
        defer { third.stop() }
        try expectServedValues(expected, port: third.port)
    }

    @Test("a sealed segment whose end is damaged is refused (it was synced whole); --skip-corrupt cuts it and serves the rest")
    func damagedSealedSegment() throws {
        let (node, data) = try startNode(["--segment-bytes", "\(Self.segmentBytes)", "--compact-min-bytes", "1000000000"])
        let expected = try fill(node.port, count: 1_500)
        #expect(node.stop() == 0)
        #expect(try segmentNames(data).count >= 2)
        let first = data + "/linkring-0000000001.log"
        let handle = try #require(FileHandle(forWritingAtPath: first))
        handle.seekToEndOfFile()
        handle.write(Data([0xA5, 0x01, 0x05]))  // the start of a record, cut short
        handle.closeFile()
        let refused = try runToExit(Binaries.node, ["--listen", "127.0.0.1:0", "--data", data])
        #expect(refused.code == 1 && refused.output.contains("a sealed segment ends in 3 bytes"), "\(refused.output)")
        let (again, _) = try startNode(data: data, ["--skip-corrupt"])
        defer { again.stop() }
        #expect(again.errors.contains("damaged tail"))
        try expectServedValues(expected, port: again.port)
    }
}
