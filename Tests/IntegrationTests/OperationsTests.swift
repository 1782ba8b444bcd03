// Operations against the real binaries: --log-file and its reopen on SIGHUP (logrotate), the
// buffered access log, and the proxy re-reading its hosts file on SIGHUP.

import Foundation
import Glibc
import Testing

@Suite("Operations (real binaries)")
struct OperationsTests {
    @Test("--log-file takes the event lines; SIGHUP reopens it after a rotation; the access log has one line per request")
    func logFiles() throws {
        let directory = makeTemporaryDirectory()
        let logFile = directory + "/node.log"
        let accessLog = directory + "/access.log"
        let (node, _) = try startNode(["--log-file", logFile, "--access-log", accessLog])
        #expect(try String(contentsOfFile: logFile, encoding: .utf8).contains("replayed 0 records"))
        #expect(!node.errors.contains("replayed"), "event lines go to the file, not stderr")
        try FileManager.default.moveItem(atPath: logFile, toPath: logFile + ".1")
        kill(node.pid, SIGHUP)
        #expect(TestClusterWait.until { (try? String(contentsOfFile: logFile, encoding: .utf8))?.contains("log file \(logFile) reopened") == true })
        let client = try TestClient(port: node.port)
        _ = try client.request("PUT", "/?short=a&long=http://a")
        _ = try client.request("GET", "/a")
        _ = try client.request("GET", "/missing")
        #expect(node.stop() == 0)
        let lines = try String(contentsOfFile: accessLog, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.count == 3 && lines[0].contains(" PUT /?short=a&long=http://a 200 ") && lines[1].contains(" GET /a 307 ")
                && lines[2].contains(" GET /missing 404 "))
    }

    @Test("a SIGHUP whose access-log reopen fails says so as an ERROR, never as a success, and the node goes on")
    func failedReopenIsReported() throws {
        let directory = makeTemporaryDirectory() + "/gone"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (node, _) = try startNode(["--access-log", directory + "/access.log"])
        defer { node.stop() }
        try FileManager.default.removeItem(atPath: directory)
        kill(node.pid, SIGHUP)
        _ = try request(node.port, "GET", "/x")  // the reopen happens with the next write of the access log
        #expect(TestClusterWait.until { node.errors.contains("ERROR SIGHUP: access log:") }, "\(node.errors.suffix(400))")
        #expect(!node.errors.contains("reopened"))
        #expect(try request(node.port, "PUT", "/?short=a&long=http://a").status == 200)
    }

    @Test("SIGHUP makes the proxy re-read its hosts file; a broken or half-written file keeps the current ring")
    func proxyReloadsHosts() throws {
        let cluster = try TestCluster(nodeCount: 3)
        func nodeCount() throws -> Int {
            let status = try request(cluster.proxy.port, "GET", "/_/status")
            return ((try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any])?["nodes"] as? [Any])?.count ?? -1
        }
        #expect(try nodeCount() == 3)
        let extra = try freePort()
        let extraNode = try ServerProcess.start(Binaries.node, ["--listen", "127.0.0.1:\(extra)", "--data", cluster.directory + "/extra"])
        defer { extraNode.stop() }
        try ("generation 1\n" + (cluster.ports + [extra]).map { "127.0.0.1:\($0)\n" }.joined())
            .write(toFile: cluster.hostsPath, atomically: true, encoding: .utf8)
        kill(cluster.proxy.pid, SIGHUP)
        #expect(try cluster.waitFor { try nodeCount() == 4 })
        #expect(cluster.proxy.errors.contains("1 added, 0 removed"))
        // The node list changed without a higher generation: refused, the membership stays.
        try ("generation 1\n" + cluster.ports.map { "127.0.0.1:\($0)\n" }.joined()).write(toFile: cluster.hostsPath, atomically: true, encoding: .utf8)
        kill(cluster.proxy.pid, SIGHUP)
        #expect(cluster.waitFor { cluster.proxy.errors.contains("under the same generation 1: keeping it") })
        #expect(try nodeCount() == 4)
        try "127.0.0.1:1\nnot an address\n".write(toFile: cluster.hostsPath, atomically: true, encoding: .utf8)
        kill(cluster.proxy.pid, SIGHUP)
        #expect(cluster.waitFor { cluster.proxy.errors.contains("keeping the current ring") })
        #expect(try nodeCount() == 4)
        // A file cut mid-write: the last entry has lost digits and its newline.
        let torn = "generation 2\n" + cluster.ports.map { "127.0.0.1:\($0)\n" }.joined() + "127.0.0.1:\(extra / 10)"
        try torn.write(toFile: cluster.hostsPath, atomically: true, encoding: .utf8)
        kill(cluster.proxy.pid, SIGHUP)
        #expect(cluster.waitFor { cluster.proxy.errors.contains("does not end with a newline") })
        let status = try request(cluster.proxy.port, "GET", "/_/status").body
        #expect(status.contains("127.0.0.1:\(extra)\"") && !status.contains("127.0.0.1:\(extra / 10)\""),
                "the half-written file was not adopted")
        #expect(try request(cluster.proxy.port, "PUT", "/?short=z&long=http://z").status == 200)
        #expect(try request(cluster.proxy.port, "GET", "/z").status == 307)
    }
}

enum TestClusterWait {
    static func until(timeoutMs: Int = 5_000, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}
