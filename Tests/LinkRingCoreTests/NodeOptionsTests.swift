// The node's command line: every option parsed and checked, the cluster options, and refusals.

import Testing
@testable import LinkRingCore

@Suite("Node command line")
struct NodeOptionsTests {
    @Test("a full command line parses")
    func full() throws {
        let options = try #require(try NodeOptions.parse([
            "--listen", "127.0.0.1:8080", "--data=/tmp/x", "--fsync", "everysec", "--skip-corrupt",
            "--cluster-token", "s3cret", "--max-connections", "5", "--header-timeout-ms", "200", "--idle-timeout-ms", "300",
            "--compact-min-bytes", "4096", "--compact-ratio", "3",
        ]))
        #expect(options.compaction == CompactionPolicy(minLogBytes: 4096, growthRatio: 3))
        #expect(options.listen == HostPort(host: "127.0.0.1", port: 8080) && options.dataDirectory == "/tmp/x")
        #expect(options.fsync == .everysec && options.skipCorrupt && options.clusterToken == bytes("s3cret"))
        #expect(options.limits.connectionsMax == 5 && options.limits.headerTimeoutMs == 200 && options.limits.idleTimeoutMs == 300)
    }

    @Test("help and dump")
    func helpAndDump() throws {
        #expect(try NodeOptions.parse(["--help"]) == nil)
        #expect(try NodeOptions.parse(["dump", "/tmp/log"])?.dumpPath == "/tmp/log")
        #expect(NodeOptions.usage.contains("--fsync") && NodeOptions.usage.contains("--listen"))
    }

    @Test("bad command lines are refused with a message", arguments: [
        ["--data", "/tmp/x"], ["--listen", "127.0.0.1:1"], ["--listen", "nohost", "--data", "d"],
        ["--listen", "h:70000", "--data", "d"], ["--listen", "h:1", "--data", "d", "--fsync", "sometimes"],
        ["--listen", "h:1", "--data", "d", "--bogus"], ["--listen", "h:1", "--listen", "h:2", "--data", "d"],
        ["--listen", "h:1", "--data", "d", "--max-connections", "0"], ["--listen"], ["extra"],
        ["--listen", "h:1", "--data", "d", "--help=yes"],
        ["--listen", "h:1", "--data", "d", "--compact-ratio", "1"], ["--listen", "h:1", "--data", "d", "--compact-min-bytes", "-1"],
    ])
    func refused(arguments: [String]) {
        #expect(throws: CommandLineError.self) { try NodeOptions.parse(arguments) }
    }

    @Test("HOST:PORT forms")
    func hostPort() throws {
        #expect(try HostPort(parsing: "[::1]:80") == HostPort(host: "::1", port: 80))
        #expect(try HostPort(parsing: " localhost:0 ").description == "localhost:0")
        #expect(HostPort(host: "::1", port: 9).description == "[::1]:9")
    }
}
