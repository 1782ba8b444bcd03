// Runs a command as a child process on the loop (uv_spawn), detached in its own session so
// what it starts (a node in the background) does not share the parent's signals. stdin and
// stdout are ignored; stderr is inherited (its messages join the parent's log).
//
// The `uv_process_t` is owned like every handle (OwnedHandle): allocated once, the owner
// retained into `handle.data`, closed in the exit callback and freed in the close callback.

import CUV
import Glibc

package final class ChildProcess: HandleOwner {
    private let handle: OwnedHandle<uv_process_t>
    private var onExit: ((_ status: Int64, _ signal: Int32) -> Void)?
    package let pid: Int32

    /// Starts `arguments[0]` (a path) with `arguments`; `onExit` runs once when it ends.
    @discardableResult
    package static func spawn(loop: EventLoop, arguments: [String],
                             onExit: @escaping (_ status: Int64, _ signal: Int32) -> Void) throws -> ChildProcess {
        try ChildProcess(loop: loop, arguments: arguments, onExit: onExit)
    }

    private init(loop: EventLoop, arguments: [String], onExit: @escaping (Int64, Int32) -> Void) throws {
        precondition(!arguments.isEmpty)
        let processHandle = UnsafeMutablePointer<uv_process_t>.allocate(capacity: 1)
        self.onExit = onExit
        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var stdio = [uv_stdio_container_t](repeating: uv_stdio_container_t(), count: 3)
        stdio[0].flags = UV_IGNORE
        stdio[1].flags = UV_IGNORE
        stdio[2].flags = UV_INHERIT_FD
        stdio[2].data.fd = 2
        let status = cArguments.withUnsafeMutableBufferPointer { argv in
            stdio.withUnsafeMutableBufferPointer { containers in
                var options = uv_process_options_t()
                options.exit_cb = processExited
                options.file = UnsafePointer(argv[0])
                options.args = argv.baseAddress
                options.stdio_count = 3
                options.stdio = containers.baseAddress
                options.flags = UInt32(UV_PROCESS_DETACHED.rawValue)
                return uv_spawn(loop.loop, processHandle, &options)
            }
        }
        // A failed uv_spawn still initialised the handle: it must be closed, then freed.
        handle = OwnedHandle(adopting: processHandle, asHandle: cuv_process_as_handle)
        guard status == 0 else {
            handle.close()
            throw UVError(status, "spawn \(arguments[0])")
        }
        pid = processHandle.pointee.pid
        handle.retain(self)
    }

    /// Kills the child's whole process group (it leads one: it is detached), for a command that
    /// hangs. Processes it started in sessions of their own (a node, via setsid) are not touched.
    package func killGroup() {
        guard !handle.isClosing else { return }
        _ = Glibc.kill(-pid, SIGKILL)  // ESRCH: it has just exited, and its exit callback will say so
    }

    /// Stops watching the child (it runs on; `onExit` will not be called), so that shutdown
    /// never waits for it.
    package func release() {
        onExit = nil
        handle.close()
    }

    fileprivate func exited(status: Int64, signal: Int32) {
        let callback = onExit
        onExit = nil
        handle.close()
        callback?(status, signal)
    }
}

private func processExited(_ handle: UnsafeMutablePointer<uv_process_t>?, _ status: Int64, _ signal: Int32) {
    Unmanaged<ChildProcess>.fromOpaque(handle!.pointee.data).takeUnretainedValue().exited(status: status, signal: signal)
}
