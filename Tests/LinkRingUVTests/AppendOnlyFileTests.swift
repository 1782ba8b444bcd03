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
