// The log file's failure decisions, on devices that fail for real: /dev/full fails every write
// with ENOSPC and every ftruncate (the undo) with EINVAL; /dev/null takes writes but fails
// fdatasync with EINVAL. A failed undo must fail the file for good (appending after bytes that
// were never acknowledged would corrupt the log); a failed fdatasync at close must be reported.

import Foundation
import Testing
import LinkRingUV

/// Runs one append on a fresh loop and returns its completion's error.
private func appendOnce(_ file: AppendOnlyFile, _ loop: EventLoop, _ bytes: [UInt8], sync: Bool) -> UVError? {
    var result: UVError?? = nil
    file.append(bytes, sync: sync) { result = .some($0) }
    loop.run()
    return result ?? UVError(-1, "the completion never ran")
}

@Suite("Append-only file failures")
struct AppendOnlyFileTests {
    @Test("a write that fails and cannot be undone fails the file for good, naming the undo")
    func failedUndoIsPermanent() throws {
        let loop = try EventLoop()
        let file = try AppendOnlyFile(loop: loop, path: "/dev/full")
        let error = try #require(appendOnce(file, loop, Array("record".utf8), sync: false))
        #expect(error.description.contains("(ENOSPC); then the undo of the failed write"), "\(error)")
        #expect(file.failure != nil, "after a failed undo the file takes no more appends")
        let next = appendOnce(file, loop, Array("more".utf8), sync: false)
        #expect(next?.description == error.description, "a later append fails at once, with the same error")
        #expect(file.size == 0)
        try? file.closeBlocking()
        #expect(loop.close())
    }

    @Test("a failed fdatasync at close is thrown, naming the file")
    func failedSyncAtClose() throws {
        let loop = try EventLoop()
        let file = try AppendOnlyFile(loop: loop, path: "/dev/null")
        #expect(appendOnce(file, loop, Array("record".utf8), sync: false) == nil)
        #expect(throws: UVError.self) { try file.closeBlocking() }
        #expect(loop.close())
    }

    @Test("a failed fdatasync after a write fails the file for good")
    func failedSyncIsPermanent() throws {
        let loop = try EventLoop()
        let file = try AppendOnlyFile(loop: loop, path: "/dev/null")
        let error = try #require(appendOnce(file, loop, Array("record".utf8), sync: true))
        #expect(error.description.contains("fdatasync") || error.description.contains("undo"))
        #expect(file.failure != nil)
        try? file.closeBlocking()
        #expect(loop.close())
    }

    @Test("preallocation: zeros ahead of the records, appends overwrite them, sealing and close give them back")
    func preallocation() throws {
        let loop = try EventLoop()
        let path = NSTemporaryDirectory() + "linkring-prealloc-\(UUID().uuidString)"
        defer { unlink(path) }
        let chunk = 64 * 1024
        let file = try AppendOnlyFile(loop: loop, path: path, preallocationBytes: chunk)
        func onDisk() throws -> Int { try ReadableFile(path: path).size() }
        #expect(appendOnce(file, loop, Array("0123456789".utf8), sync: true) == nil)
        let first = try onDisk()
        #expect(file.size == 10 && file.allocatedBytes == chunk && first == chunk, "zeros written ahead, at least half a chunk")
        let big = [UInt8](repeating: 0x41, count: chunk)
        #expect(appendOnce(file, loop, big, sync: true) == nil)
        #expect(file.size == 10 + chunk && file.allocatedBytes == 2 * chunk, "an append past the end writes the next stretch")
        let held = try ReadableFile(path: path).read(count: 2 * chunk, at: 0)
        #expect(held.prefix(10) == ArraySlice("0123456789".utf8) && held[10..<(10 + chunk)].allSatisfy { $0 == 0x41 })
        #expect(held[(10 + chunk)...].allSatisfy { $0 == 0 })
        // A batch inside the preallocated stretch may run on the loop: done before append returns.
        var doneAtOnce = false
        file.append(Array("xy".utf8), sync: true, onLoop: true) { doneAtOnce = $0 == nil }
        #expect(doneAtOnce && file.lastLoopRunUs != nil && file.size == 12 + chunk)
        var trimmed = false
        file.trimAndSync { trimmed = $0 == nil }
        loop.run()
        let afterTrim = try onDisk()
        #expect(trimmed && afterTrim == 12 + chunk && file.allocatedBytes == file.size)
        #expect(appendOnce(file, loop, Array("z".utf8), sync: true) == nil)
        let grown = try onDisk()
        #expect(grown > file.size)
        try file.closeBlocking()
        let closed = try onDisk()
        #expect(closed == 13 + chunk, "a clean close leaves exactly the records")
        #expect(loop.close())
    }

    @Test("on a regular file appends grow the file and close syncs without error")
    func regularFile() throws {
        let loop = try EventLoop()
        let path = NSTemporaryDirectory() + "linkring-append-\(UUID().uuidString)"
        defer { unlink(path) }
        let file = try AppendOnlyFile(loop: loop, path: path)
        #expect(appendOnce(file, loop, Array("0123456789".utf8), sync: true) == nil)
        #expect(file.size == 10 && file.failure == nil)
        try file.closeBlocking()
        #expect(loop.close())
    }
}
