// File work that must not block the loop, done on libuv's thread pool (uv_fs_*): read a
// range of a file, rename, fsync a directory, remove or close a file. Log compaction
// and the hint file use them, so the loop never waits for the disk (docs/DECISIONS.md,
// "Log compaction").
//
//   FileTasks.rename(loop, a, b) { error in … }   ─▶ uv_fs_rename on a pool thread ─▶ the
//   completion on the loop, once, with nil or the error
//
// Each task is one `FileTask`: it owns its uv_fs_t (and a read's buffer) and is retained in
// the request's `data` until its callback has run; a chain (open, fsync, close of a directory)
// reuses one request step by step. A task that cannot even be started calls back at once
// with the error.

import CUV
import Glibc

package enum FileTasks {
    /// Reads up to `count` bytes of `file` at `offset` (fewer when the file ends first).
    package static func read(_ loop: EventLoop, _ file: ReadableFile, count: Int, at offset: Int,
                             completion: @escaping (Result<[UInt8], UVError>) -> Void) {
        let task = FileTask(loop: loop, bufferBytes: count)
        task.keepAlive = file
        task.start(operation: "read \(file.path)", { request, buffer, callback in
            var slice = uv_buf_init(buffer!.assumingMemoryBound(to: CChar.self), UInt32(count))
            return uv_fs_read(loop.loop, request, file.descriptorForTasks, &slice, 1, Int64(offset), callback)
        }, done: { result, buffer in
            completion(result.map { Array(UnsafeRawBufferPointer(start: buffer, count: $0)) })
        })
    }

    /// Renames `source` over `destination`.
    package static func rename(_ loop: EventLoop, _ source: String, to destination: String, completion: @escaping (UVError?) -> Void) {
        FileTask(loop: loop).start(operation: "rename \(source) to \(destination)", { request, _, callback in
            uv_fs_rename(loop.loop, request, source, destination, callback)
        }, done: { result, _ in completion(result.error) })
    }

    /// Removes `path` (a missing file is not an error).
    package static func remove(_ loop: EventLoop, _ path: String, completion: @escaping (UVError?) -> Void) {
        FileTask(loop: loop).start(operation: "remove \(path)", { request, _, callback in
            uv_fs_unlink(loop.loop, request, path, callback)
        }, done: { result, _ in completion(result.error.flatMap { $0.code == -ENOENT ? nil : $0 }) })
    }

    /// Closes `descriptor` (errors are of no use to anyone then).
    package static func close(_ loop: EventLoop, _ descriptor: Int32) {
        FileTask(loop: loop).start(operation: "close", { request, _, callback in
            uv_fs_close(loop.loop, request, uv_file(descriptor), callback)
        }, done: { _, _ in })
    }

    /// fsyncs the directory `path`, so a rename or a new file in it survives a crash.
    package static func syncDirectory(_ loop: EventLoop, _ path: String, completion: @escaping (UVError?) -> Void) {
        FileTask(loop: loop).start(operation: "open \(path)", { request, _, callback in
            uv_fs_open(loop.loop, request, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, callback)
        }, done: { opened, _ in
            guard case .success(let descriptor) = opened else { return completion(opened.error) }
            FileTask(loop: loop).start(operation: "fsync \(path)", { request, _, callback in
                uv_fs_fsync(loop.loop, request, uv_file(descriptor), callback)
            }, done: { synced, _ in
                Glibc.close(Int32(descriptor))
                completion(synced.error)
            })
        })
    }
}

extension Result where Failure == UVError {
    var error: UVError? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// One uv_fs request in flight, with its buffer; freed after its callback.
private final class FileTask {
    let loop: EventLoop
    let request = UnsafeMutablePointer<uv_fs_t>.allocate(capacity: 1)
    let buffer: UnsafeMutableRawPointer?
    let bufferBytes: Int
    var keepAlive: AnyObject?
    var operation = ""
    var done: ((Result<Int, UVError>, UnsafeMutableRawPointer?) -> Void)?

    init(loop: EventLoop, bufferBytes: Int = 0) {
        self.loop = loop
        self.bufferBytes = bufferBytes
        buffer = bufferBytes > 0 ? UnsafeMutableRawPointer.allocate(byteCount: bufferBytes, alignment: 8) : nil
    }

    func start(operation: String, _ body: (UnsafeMutablePointer<uv_fs_t>, UnsafeMutableRawPointer?, uv_fs_cb) -> Int32,
               done: @escaping (Result<Int, UVError>, UnsafeMutableRawPointer?) -> Void) {
        self.operation = operation
        self.done = done
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = body(request, buffer, fileTaskDone)
        if status < 0 { finish(Int(status)) }
    }

    func finish(_ result: Int) {
        let outcome: Result<Int, UVError> = result < 0 ? .failure(UVError(Int32(result), operation)) : .success(result)
        let done = self.done
        self.done = nil
        done?(outcome, buffer)
        buffer?.deallocate()
        request.deallocate()
        Unmanaged.passUnretained(self).release()
    }

    func completed() {
        let result = Int(request.pointee.result)
        uv_fs_req_cleanup(request)
        finish(result)
    }
}

private func fileTaskDone(_ request: UnsafeMutablePointer<uv_fs_t>?) {
    Unmanaged<FileTask>.fromOpaque(request!.pointee.data).takeUnretainedValue().completed()
}
