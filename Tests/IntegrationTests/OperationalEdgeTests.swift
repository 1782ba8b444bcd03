// Operational edge cases of the real node (issue 11, finding 6): a full disk is reported by
// `/_/health` ("writable": false) with a bounded number of ERROR lines however many writes it
// refuses, and the node recovers by itself once space is freed; accept running out of file
// descriptors is logged (bounded) and accepting resumes once descriptors are free; a release
// binary ignores the crash-point test hook; the log dump prints true offsets after a skipped
// corrupt range.

import Foundation
import Glibc
import Testing

/// Mounts a tmpfs of `size` on a new directory; nil (with a printed reason) where mounting is
/// not allowed. The caller unmounts it with `unmountTmpfs`.
func mountTmpfs(size: String) throws -> String? {
    let mountPoint = makeTemporaryDirectory()
    let mounted = try runToExit("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", mountPoint])
    guard mounted.code == 0 else {
        print("cannot mount a tmpfs here (\(mounted.output)); skipping")
        return nil
    }
    return mountPoint
}

func unmountTmpfs(_ mountPoint: String) {
    _ = try? runToExit("/bin/umount", ["-l", mountPoint])
}

/// The node's `"writable"` in `/_/health`.
func isWritable(_ port: Int) throws -> Bool? {
    let body = try request(port, "GET", "/_/health").body
    if body.contains("\"writable\":true") { return true }
    if body.contains("\"writable\":false") { return false }
    return nil
}

func errorLines(_ server: ServerProcess) -> [Substring] {
    server.errors.split(separator: "\n").filter { $0.contains(" ERROR ") }
}

@Suite("Operational edge cases (real binary)")
struct OperationalEdgeTests {
    @Test("a log rewrite (or the roll-over that seals the segment first) that cannot even start on a full disk leaves no file behind")
    func failedCompactionStartCleansUp() throws {
        guard let mountPoint = try mountTmpfs(size: "256k") else { return }
        defer { unmountTmpfs(mountPoint) }
        let data = mountPoint + "/data"
        let (node, _) = try startNode(data: data, ["--compact-min-bytes", "4096"])
        defer { node.stop() }
        // Leave one free page: the log grows into it past --compact-min-bytes, and then the
        // rewrite's first bytes find the disk full (tmpfs counts whole pages).
        var stats = statvfs()
        #expect(statvfs(mountPoint, &stats) == 0)
        let freePages = Int(stats.f_bavail) * Int(stats.f_bsize) / 4096
        _ = try runToExit("/bin/dd", ["if=/dev/zero", "of=\(mountPoint)/filler", "bs=4096", "count=\(freePages - 1)"])
        var written = 0
        while written < 200 {
            guard try request(node.port, "PUT", "/?short=k&long=http://v/\(written)").status == 200 else { break }
            written += 1
        }
        #expect(written >= 130, "the log reached --compact-min-bytes (\(written) writes)")
        #expect(TestClusterWait.until(timeoutMs: 5_000) {
            node.errors.contains("log compaction failed") || node.errors.contains("roll-over failed")
        }, "\(node.errors.suffix(300))")
        let names = try FileManager.default.contentsOfDirectory(atPath: data)
        #expect(!names.contains { $0.hasSuffix(".compact") }, "no empty .compact left until a restart: \(names)")
        #expect(!names.contains("linkring-0000000002.log"), "no empty segment left by a failed roll-over: \(names)")
    }

    @Test("a full disk: health says writable false, 200 refused writes give at most 2 ERROR lines, writable again after a write succeeds")
    func diskFullHealthAndErrorLines() throws {
        guard let mountPoint = try mountTmpfs(size: "256k") else { return }
        defer { unmountTmpfs(mountPoint) }
        let (node, _) = try startNode(data: mountPoint + "/data")
        defer { node.stop() }
        #expect(try request(node.port, "PUT", "/?short=before&long=http://before").status == 200)
        #expect(try isWritable(node.port) == true)
        let filler = mountPoint + "/filler"
        _ = try runToExit("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=4096"])
        let long = "http://" + String(repeating: "f", count: 4089)  // needs a page the disk does not have
        var refused = 0
        for index in 0..<200 where try request(node.port, "PUT", "/?short=full\(index)&long=\(long)").status == 503 {
            refused += 1
        }
        #expect(refused == 200)
        #expect(try isWritable(node.port) == false, "health must say writable false while writes fail")
        let errors = errorLines(node)
        #expect(errors.count >= 1 && errors.count <= 2, "\(errors.count) ERROR lines for 200 refused writes: \(errors.prefix(3))")
        try FileManager.default.removeItem(atPath: filler)
        #expect(try request(node.port, "PUT", "/?short=after&long=http://after").status == 200, "the node recovers by itself")
        #expect(try isWritable(node.port) == true)
        #expect(node.errors.contains("log writes succeed again, after 200 refused writes"))
        #expect(try request(node.port, "GET", "/after").status == 307)
    }

    @Test("accept out of descriptors (EMFILE) is logged a bounded number of times; waiting clients are served once descriptors are free")
    func acceptOutOfDescriptors() throws {
        let node = try ServerProcess.start("/usr/bin/prlimit", ["--nofile=40", "--", Binaries.node,
                                                                "--listen", "127.0.0.1:0", "--data", makeTemporaryDirectory()])
        defer { node.stop() }
        var served: [TestClient] = []
        var waiting: [TestClient] = []
        while served.count < 100 && waiting.count < 3 {
            let client = try TestClient(port: node.port)
            try client.send("GET /_/health HTTP/1.1\r\nHost: test\r\n\r\n")
            if waiting.isEmpty, (try? client.readResponse(timeoutMs: 1_000)) != nil {
                served.append(client)
            } else {
                waiting.append(client)
            }
        }
        #expect(waiting.count == 3, "the node never ran out of descriptors (\(served.count) connections served)")
        served.removeAll()  // closes them: descriptors are free again
        for client in waiting {
            #expect((try? client.readResponse(timeoutMs: 5_000))?.status == 200, "a client that waited in the backlog is served")
        }
        #expect(try request(node.port, "GET", "/_/health").status == 200)
        let lines = node.errors.split(separator: "\n").filter { $0.contains("EMFILE") }
        #expect(lines.count >= 1 && lines.count <= 3, "\(lines.count) EMFILE lines: \(lines.prefix(4))")
        #expect(node.errors.contains("accepting connections again"))
    }

    @Test("a release binary ignores LINKRING_TEST_CRASH_AT_BYTE: it says so and keeps writing past the byte")
    func releaseIgnoresCrashHook() throws {
        let node = try ServerProcess.start(Binaries.releaseNode, ["--listen", "127.0.0.1:0", "--data", makeTemporaryDirectory()],
                                           environment: ["LINKRING_TEST_CRASH_AT_BYTE": "20"])
        defer { node.stop() }
        for index in 0..<4 {
            #expect(try request(node.port, "PUT", "/?short=r\(index)&long=http://r/\(index)").status == 200)
        }
        #expect(node.process.isRunning, "the release binary must not kill itself at the byte")
        #expect(node.errors.contains("ignored: this binary is built without test hooks"))
    }

    @Test("the dump prints each record's real byte offset, also after a corrupt range it skipped")
    func dumpOffsetsAfterCorruption() throws {
        let (_, log, starts) = try makeDataWithCorruptSecondRecord()
        let (code, output) = try runToExit(Binaries.node, ["dump", log])
        let offsets = output.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(separator: " ").first.flatMap { Int($0) } }
        #expect(code == 0)
        #expect(offsets == [starts[0], starts[2]], "\(output)")
        #expect(output.contains("# corrupt bytes \(starts[1])..<\(starts[2]) skipped"))
    }
}
