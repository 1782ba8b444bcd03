// kill -9 at every stage of a segment compaction and of the hint written after it (the debug
// node's test hook LINKRING_TEST_COMPACTION_KILL_AT: started, sliced (a slice's write under
// way), synced, renamed, relocating (a slice of entries moved), relocated, hint-writing (a
// chunk's write under way), hint-synced, hint-renamed) while a client keeps overwriting keys,
// with small segments (--segment-bytes 65536) so the log rolls over meanwhile: after a restart
// every acknowledged write is served (or the one write in flight when the node died, which
// may have reached the disk), the log replays without a torn tail or corruption, and no
// .compact or .new file is left.

import Foundation
import Testing

@Suite("Compaction crash points (real binary)")
struct CompactionCrashTests {
    @Test("kill -9 at each stage of a compaction loses no acknowledged write", arguments: [
        "started", "sliced", "synced", "renamed", "relocating", "relocated", "hint-writing", "hint-synced", "hint-renamed",
    ])
    func killAtStage(stage: String) throws {
        let data = makeTemporaryDirectory()
        let node = try ServerProcess.start(Binaries.nodeWithTestHooks, ["--listen", "127.0.0.1:0", "--data", data,
                                                                        "--compact-min-bytes", "20000", "--segment-bytes", "65536"],
                                           environment: ["LINKRING_TEST_COMPACTION_KILL_AT": stage])
        var acknowledged: [String: String] = [:]
        var inFlight: (key: String, value: String)?
        let deadline = Date().addingTimeInterval(20)
        let client = try TestClient(port: node.port)
        // Keys written once stay live in the sealed segments: their compaction moves them (the
        // relocating stages), while the overwritten ones are dropped.
        for key in 0..<40 {
            let (name, long) = ("s\(key)", "http://s/\(key)")
            #expect(try client.request("PUT", "/?short=\(name)&long=\(long)").status == 200)
            acknowledged[name] = long
        }
        var round = 0
        writing: while Date() < deadline {
            // Each round also writes one key that is never overwritten, so every sealed segment
            // holds live records: whichever segment a compaction picks, it relocates entries (a
            // segment of overwritten keys only is removed without reaching the relocating stages,
            // and fast writes made such segments faster than compaction took them).
            for key in 0...40 {
                let name = key == 40 ? "r\(round)" : "c\(key)"
                let long = "http://v/\(name)/\(round)"
                guard let answer = try? client.request("PUT", "/?short=\(name)&long=\(long)", timeoutMs: 3_000), answer.status == 200 else {
                    inFlight = (name, long)
                    break writing
                }
                acknowledged[name] = long
            }
            round += 1
        }
        let died = node.waitForExit(timeoutMs: 5_000)
        if !died { node.kill9() }
        #expect(died && node.exitCode == -9, "the node died at stage \(stage)")
        #expect(node.errors.contains("killed at compaction stage \(stage)"))
        let again = try ServerProcess.start(Binaries.nodeWithTestHooks, ["--listen", "127.0.0.1:0", "--data", data])
        defer { again.stop() }
        #expect(!again.errors.contains("corrupt") && !again.errors.contains("torn tail"))
        let names = try FileManager.default.contentsOfDirectory(atPath: data)
        #expect(!names.contains { $0.hasSuffix(".compact") || $0.hasSuffix(".new") }, "\(names)")
        let reader = try TestClient(port: again.port)
        for (key, value) in acknowledged {
            let served = try reader.request("GET", "/\(key)").headers["location"]
            #expect(served == value || (inFlight?.key == key && served == inFlight?.value), "\(key) at stage \(stage): \(served ?? "none")")
        }
    }
}
