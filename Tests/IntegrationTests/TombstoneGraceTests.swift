// Tombstone collection with the real node: a lone node drops a tombstone once it is older than
// --tombstone-grace-ms (no other replica can hold an older value) and the key stays deleted; a
// node whose data was last alive longer ago than the grace period refuses to start, since its
// peers may have forgotten deletes it never saw (its data would resurrect those keys), and with
// --rejoin-empty sets its log aside and starts empty, holding none of its old keys.

import Foundation
import Glibc
import Testing

@Suite("Tombstone grace period (real binary)")
struct TombstoneGraceTests {
    @Test("a lone node collects a tombstone past the grace period; the key stays deleted")
    func loneNodeCollects() throws {
        let (node, _) = try startNode(["--tombstone-grace-ms", "1000"])
        defer { node.stop() }
        #expect(try request(node.port, "PUT", "/?short=gone&long=http://gone").status == 200)
        #expect(try request(node.port, "DELETE", "/gone").status == 200)
        #expect(try request(node.port, "GET", "/_/health").body.contains("\"tombstones\":1,"))
        let deadline = Date().addingTimeInterval(10)
        while try !request(node.port, "GET", "/_/health").body.contains("\"tombstones\":0,") && Date() < deadline { usleep(100_000) }
        #expect(try request(node.port, "GET", "/_/health").body.contains("\"tombstones\":0,"))
        #expect(try request(node.port, "GET", "/gone").status == 404)
    }

    @Test("data last alive longer ago than the grace period is refused; --rejoin-empty starts empty with the log set aside")
    func staleDataNeverResurrects() throws {
        let data = makeTemporaryDirectory()
        let hosts = data + "/hosts.txt"
        try "127.0.0.1:1\n".write(toFile: hosts, atomically: true, encoding: .utf8)
        let cluster = ["--hosts", hosts, "--self", "127.0.0.1:1", "--replicas", "1", "--tombstone-grace-ms", "2000"]
        let (node, _) = try startNode(data: data, cluster)
        #expect(try request(node.port, "PUT", "/?short=old&long=http://old").status == 200)
        #expect(node.stop() == 0)
        let alive = data + "/linkring.alive"
        #expect(FileManager.default.fileExists(atPath: alive))
        let longAgo = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
        try "\(longAgo)\n".write(toFile: alive, atomically: true, encoding: .utf8)
        let refused = try runToExit(Binaries.node, ["--listen", "127.0.0.1:0", "--data", data] + cluster)
        #expect(refused.code == 1 && refused.output.contains("last alive") && refused.output.contains("--rejoin-empty"))
        let (again, _) = try startNode(data: data, cluster + ["--rejoin-empty"])
        defer { again.stop() }
        #expect(again.errors.contains("set aside"))
        #expect(try request(again.port, "GET", "/old").status == 404, "the old data is not served")
        #expect(try request(again.port, "GET", "/_/health").body.contains("\"keys\":0,"))
        let names = try FileManager.default.contentsOfDirectory(atPath: data)
        #expect(names.contains { $0.hasPrefix("linkring-0000000001.log.stale-") })
        #expect(!names.contains("linkring-0000000001.log.compact") && !names.contains("linkring.hint"))
    }
}
