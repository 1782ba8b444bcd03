// The hybrid clock on an injected wall clock, and the command-line parsing of the node.

import Testing
@testable import LinkRingCore

@Suite("Hybrid clock")
struct HybridClockTests {
    let base: Int64 = 1_795_822_856_000

    @Test("versions strictly increase, even when the wall clock steps back")
    func monotonic() {
        var clock = HybridClock(origin: 3)
        var last: UInt64 = 0
        for wall in [base, base, base + 5, base - 60_000, base - 60_000, base + 1, base + 10] {
            let version = clock.next(wallClockUnixMs: wall)
            #expect(version > last)
            #expect(HybridClock.split(version).origin == 3)
            last = version
        }
    }

    @Test("more than 4096 versions in one millisecond run ahead instead of repeating")
    func counterOverflow() {
        var clock = HybridClock(origin: 0)
        var last: UInt64 = 0
        for _ in 0..<10_000 {
            let version = clock.next(wallClockUnixMs: base)
            #expect(version > last)
            last = version
        }
        #expect(HybridClock.unixMs(of: last) == base + 2)
    }

    @Test("observing a newer version moves the clock past it; two origins never collide")
    func observe() {
        var a = HybridClock(origin: 1)
        var b = HybridClock(origin: 2)
        let future = b.next(wallClockUnixMs: base + 1_000)
        let observed = a.observe(future, wallClockUnixMs: base)
        #expect(observed)
        #expect(a.next(wallClockUnixMs: base) > future)
        var c = HybridClock(origin: 1)
        var d = HybridClock(origin: 2)
        #expect(c.next(wallClockUnixMs: base) != d.next(wallClockUnixMs: base))
        #expect(HybridClock.unixMs(of: future) == base + 1_000)
    }

    @Test("the stable hash has known answers")
    func fnv() {
        #expect(FNV1a.hash64([]) == 0xCBF2_9CE4_8422_2325)
        #expect(FNV1a.hash64(bytes("a")) == 0xAF63_DC4C_8601_EC8C)
        #expect(FNV1a.hash64(bytes("foobar")) == 0x8594_4171_F739_67E8)
    }
}

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
