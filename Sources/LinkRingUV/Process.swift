// Process-wide set-up and output: signals, clocks, stdout lines a parent waits for, and the
// log line writer used for events (never per request).

import CUV
import Glibc

package enum ProcessSetup {
    /// Unblocks every signal (a test runner's child may inherit SIGTERM blocked) and ignores
    /// SIGPIPE (a write to a closed socket must be an error, not death).
    /// Also raises the open-file soft limit to the hard limit: each connection is a descriptor,
    /// and the usual soft limit (1024) is far below `--max-connections`.
    /// Marks every inherited descriptor past stderr close-on-exec: a restart command the proxy
    /// spawns (and a node it starts) must not hold what the proxy's parent handed down (a test
    /// runner's socket, a supervisor's pipe), or that parent waits for them after the proxy ended.
    package static func prepare() {
        cuv_unblock_all_signals()
        cuv_ignore_sigpipe()
        // A backup asks a node for a snapshot with SIGUSR1; until the node watches it (after
        // its start-up replay), or in a process that never does, it must not kill.
        SignalWatcher.ignore(SignalWatcher.userSignal)
        closeInheritedDescriptorsOnExec()
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }

    private static func closeInheritedDescriptorsOnExec() {
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        let own = dirfd(directory)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let descriptor = Int32(name), descriptor > 2, descriptor != own else { continue }
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0 { _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    package static func exit(_ code: Int32) -> Never {
        fflush(nil)
        Glibc.exit(code)
    }

    /// Flushes stdio and ends the process without its exit handlers, for a stop that left a name
    /// lookup running in a silent resolver: libuv's destructor joins its thread-pool threads and
    /// would hold the exit for the resolver's whole time-out. Everything durable is written and
    /// synced before; other stops keep the handlers (LeakSanitizer's check runs in one).
    package static func exitSkippingHandlers(_ code: Int32) -> Never {
        fflush(nil)
        Glibc._exit(code)
    }
}

/// Signals to other processes and a blocking wait, for the command-line tools (a backup asks
/// the node that runs on a data directory for a snapshot); never used on a serving loop.
package enum OtherProcess {
    /// Sends `signal` to `pid`; false if there is no such process or it may not be signalled.
    package static func signal(_ pid: Int32, _ signal: Int32) -> Bool { kill(pid, signal) == 0 }

    /// The command line of `pid`, its words joined by spaces ("" if it is gone).
    package static func commandLine(_ pid: Int32) -> String {
        let bytes = (try? FileSystem.readRange("/proc/\(pid)/cmdline", 0..<4096)) ?? []
        return String(decoding: bytes.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }

    /// This process's pid.
    package static var selfPID: Int32 { getpid() }

    /// Blocks this thread for `ms` milliseconds.
    package static func sleep(ms: Int) { usleep(useconds_t(ms * 1000)) }
}

package enum StandardError {
    /// Points stderr (fd 2) at `path`, opened for appending (created 0644). Called again after
    /// SIGHUP, it reopens the path, so a rotated log file is let go.
    package static func redirect(toFile path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw UVError(-errno, "open log file \(path)") }
        defer { close(descriptor) }
        guard dup2(descriptor, 2) >= 0 else { throw UVError(-errno, "dup2 log file \(path)") }
    }
}

package enum ProcessEnvironment {
    package static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

package enum WallClock {
    /// Milliseconds since the Unix epoch.
    package static func nowMs() -> Int64 { Int64(cuv_wall_clock_ms()) }
}

package enum MonotonicClock {
    /// Nanoseconds from an arbitrary start (uv_hrtime: never steps back).
    package static func nowNs() -> UInt64 { uv_hrtime() }

    /// Milliseconds from the same start.
    package static func nowMs() -> UInt64 { uv_hrtime() / 1_000_000 }
}

package enum Output {
    /// Prints one line to stdout and flushes it (a parent may be waiting for it on a pipe).
    package static func printLine(_ line: String) {
        writeAll(1, line + "\n")
    }

    /// Writes to stderr at once (unbuffered).
    package static func printError(_ line: String) {
        writeAll(2, line + "\n")
    }

    static func writeAll(_ descriptor: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
