// Durability and start-up of the real node: data survives restarts and kill -9 right after an
// acknowledged write; replay truncates a torn tail, refuses mid-log corruption (naming file
// and offset) unless --skip-corrupt; start-up errors exit non-zero with a clear message; a
// full disk makes writes fail with 503 while reads go on, and writes resume once space is freed.

import Foundation
import Glibc
import Testing

@Suite("Node durability (real binary)")
struct NodeDurabilityTests {
    @Test("a restart (SIGTERM, exit 0) keeps every key")
    func restartKeepsData() throws {
        let (node, data) = try startNode()
        let client = try TestClient(port: node.port)
        for index in 0..<50 { #expect(try client.request("PUT", "/?short=k\(index)&long=http://x/\(index)").status == 200) }
        #expect(try client.request("DELETE", "/k7").status == 200)
        #expect(node.stop() == 0)
        #expect(node.errors.contains("stopped"))
        let (again, _) = try startNode(data: data)
        defer { again.stop() }
        let reader = try TestClient(port: again.port)
        for index in 0..<50 where index != 7 {
            #expect(try reader.request("GET", "/k\(index)").headers["location"] == "http://x/\(index)")
        }
        #expect(try reader.request("GET", "/k7").status == 404)
    }

    @Test("kill -9 right after an acknowledged PUT keeps it")
    func killRightAfterAck() throws {
        let (node, data) = try startNode()
        let client = try TestClient(port: node.port)
        for round in 0..<5 { #expect(try client.request("PUT", "/?short=d\(round)&long=http://durable/\(round)").status == 200) }
        node.kill9()
        let (again, _) = try startNode(data: data)
        defer { again.stop() }
        for round in 0..<5 { #expect(try request(again.port, "GET", "/d\(round)").headers["location"] == "http://durable/\(round)") }
    }

    @Test("--fsync everysec and never acknowledge writes and keep them across a clean restart")
    func otherFsyncPolicies() throws {
        for policy in ["everysec", "never"] {
            let (node, data) = try startNode(["--fsync", policy])
            #expect(try request(node.port, "PUT", "/?short=f&long=http://\(policy)").status == 200)
            #expect(try request(node.port, "GET", "/_/health").body.contains("\"fsync\":\"\(policy)\""))
            #expect(node.stop() == 0)
            let (again, _) = try startNode(data: data)
            #expect(try request(again.port, "GET", "/f").headers["location"] == "http://\(policy)")
            again.stop()
        }
    }

    @Test("a torn tail is truncated with a warning; the records before it are served and new writes replay")
    func tornTail() throws {
        let (node, data) = try startNode()
        _ = try request(node.port, "PUT", "/?short=keep&long=http://keep")
        #expect(node.stop() == 0)
        let log = data + "/linkring-0000000001.log"
        let handle = try #require(FileHandle(forWritingAtPath: log))
        handle.seekToEndOfFile()
        handle.write(Data([0xA5, 0x01, 0x05, 0x00, 0x40]))  // the start of a record, cut short
        handle.closeFile()
        let (again, _) = try startNode(data: data)
        #expect(again.errors.contains("torn tail"))
        #expect(try request(again.port, "GET", "/keep").status == 307)
        _ = try request(again.port, "PUT", "/?short=after&long=http://after")
        #expect(again.stop() == 0)
        let (third, _) = try startNode(data: data)
        defer { third.stop() }
        #expect(!third.errors.contains("torn tail"))
        #expect(try request(third.port, "GET", "/after").status == 307)
    }

    @Test("corruption before the tail stops start-up naming file and offset; --skip-corrupt starts and skips it")
    func corruptMiddle() throws {
        let (data, log, starts) = try makeDataWithCorruptSecondRecord()
        let secondRecord = starts[1]
        let (code, output) = try runToExit(Binaries.node, ["--listen", "127.0.0.1:0", "--data", data])
        #expect(code == 1 && output.contains(log) && output.contains("byte \(secondRecord)") && output.contains("--skip-corrupt"))
        let (skipping, _) = try startNode(data: data, ["--skip-corrupt"])
        defer { skipping.stop() }
        #expect(skipping.errors.contains("skipped corrupt bytes \(secondRecord)"))
        #expect(try request(skipping.port, "GET", "/c1").status == 307)
        #expect(try request(skipping.port, "GET", "/c2").status == 404)
        #expect(try request(skipping.port, "GET", "/c3").status == 307)
    }

    @Test("start-up errors exit non-zero with a clear message")
    func startupErrors() throws {
        let help = try runToExit(Binaries.node, ["--help"])
        #expect(help.code == 0 && help.output.contains("--listen") && help.output.contains("--fsync"))
        let bad = try runToExit(Binaries.node, ["--listen", "127.0.0.1:0", "--data", makeTemporaryDirectory(), "--fsync", "sometimes"])
        #expect(bad.code == 2 && bad.output.contains("--fsync must be"))
        let (node, data) = try startNode()
        defer { node.stop() }
        let portInUse = try runToExit(Binaries.node, ["--listen", "127.0.0.1:\(node.port)", "--data", makeTemporaryDirectory()])
        #expect(portInUse.code == 1 && portInUse.output.contains("address already in use"))
        let sameData = try runToExit(Binaries.node, ["--listen", "127.0.0.1:0", "--data", data])
        #expect(sameData.code == 1 && sameData.output.contains("another linkring-node"))
        let file = makeTemporaryDirectory() + "/plain-file"
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        let notADirectory = try runToExit(Binaries.node, ["--listen", "127.0.0.1:0", "--data", file])
        #expect(notADirectory.code == 1 && notADirectory.output.contains(file))
    }

    @Test("a full disk: PUT answers 503, GET keeps working, the log stays valid, writes resume once space is freed")
    func diskFull() throws {
        let mountPoint = makeTemporaryDirectory()
        let mounted = try runToExit("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint])
        guard mounted.code == 0 else {
            print("skipping the full-disk test: cannot mount a tmpfs here (\(mounted.output))")
            return
        }
        defer { _ = try? runToExit("/bin/umount", ["-l", mountPoint]) }
        let data = mountPoint + "/data"
        let (node, _) = try startNode(data: data)
        #expect(try request(node.port, "PUT", "/?short=before&long=http://before").status == 200)
        let filler = mountPoint + "/filler"
        _ = try runToExit("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=4096"])
        let failed = try request(node.port, "PUT", "/?short=during&long=http://" + String(repeating: "d", count: 4089))
        #expect(failed.status == 503 && failed.body.contains("Could not perform the PUT"))
        #expect(try request(node.port, "GET", "/before").status == 307)
        #expect(try request(node.port, "GET", "/during").status == 404, "a failed write is not visible")
        try FileManager.default.removeItem(atPath: filler)
        #expect(try request(node.port, "PUT", "/?short=after&long=http://after").status == 200)
        #expect(node.stop() == 0)
        let (again, _) = try startNode(data: data)
        defer { again.stop() }
        #expect(!again.errors.contains("torn tail") && !again.errors.contains("corrupt"))
        #expect(try request(again.port, "GET", "/before").status == 307)
        #expect(try request(again.port, "GET", "/after").status == 307)
        #expect(try request(again.port, "GET", "/during").status == 404)
    }
}
