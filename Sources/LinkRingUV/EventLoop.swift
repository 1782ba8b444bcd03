// The libuv loop, and the one funnel from C status codes to Swift errors.
//
// A process has one `EventLoop`, used only from the thread that runs it. The loop owns the
// read buffer every stream reads into: libuv calls alloc and read back to back on the loop
// thread, and the stream's delegate copies what it needs before returning, so one buffer
// serves every connection (64 KiB per connection would cost 640 MiB at 10k connections).

import CUV

/// A failed libuv or system call: the operation and libuv's name and message for the code.
package struct UVError: Error, Sendable, CustomStringConvertible {
    package var code: Int32
    package var operation: String

    package init(_ code: Int32, _ operation: String) {
        self.code = code
        self.operation = operation
    }

    package var name: String { String(cString: uv_err_name(code)) }
    package var message: String { String(cString: uv_strerror(code)) }
    package var description: String { "\(operation): \(message) (\(name))" }

    var isEndOfFile: Bool { code == Int32(UV_EOF.rawValue) }
}

/// Throws for a negative libuv status (an operating error); returns non-negative results
/// unchanged. `mustSucceed` (OwnedHandle.swift) is the other half of the funnel: it traps.
@discardableResult
func check(_ status: Int32, _ operation: @autoclosure () -> String) throws -> Int32 {
    if status < 0 { throw UVError(status, operation()) }
    return status
}

package final class EventLoop {
    let loop: UnsafeMutablePointer<uv_loop_t>
    /// Shared by every stream's reads (see the file comment); allocated on the first read.
    private var sharedReadBuffer: UnsafeMutableRawPointer? = nil
    package static let readBufferBytes = 64 * 1024

    package init() throws {
        loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
        do {
            try check(uv_loop_init(loop), "uv_loop_init")
        } catch {
            loop.deallocate()
            throw error
        }
        loop.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    /// Runs until no active handle is left (after `stop()` or once every handle is closed).
    package func run() {
        uv_run(loop, UV_RUN_DEFAULT)
    }

    /// Makes `run()` return after the current iteration.
    package func stop() {
        uv_stop(loop)
    }

    /// The loop's cached monotonic time in milliseconds (updated once per iteration).
    package var nowMs: UInt64 { uv_now(loop) }

    /// The monotonic time now, in the same milliseconds as `nowMs`, which it also updates: for
    /// a time stamp taken late in a long iteration, where the cached time would be stale.
    package func freshNowMs() -> UInt64 {
        uv_update_time(loop)
        return uv_now(loop)
    }

    /// Closes the loop and frees its memory; returns false if handles are still open (a leak:
    /// the loop is then kept, as libuv requires).
    package func close() -> Bool {
        guard !isClosed else { return true }
        guard uv_loop_close(loop) == 0 else { return false }
        isClosed = true
        loop.deallocate()
        sharedReadBuffer?.deallocate()
        sharedReadBuffer = nil
        return true
    }

    var readBuffer: UnsafeMutableRawPointer {
        if let sharedReadBuffer { return sharedReadBuffer }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.readBufferBytes, alignment: 16)
        sharedReadBuffer = buffer
        return buffer
    }

    private var isClosed = false

    static func owner(of loop: UnsafeMutablePointer<uv_loop_t>?) -> EventLoop? {
        guard let data = loop?.pointee.data else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(data).takeUnretainedValue()
    }
}
