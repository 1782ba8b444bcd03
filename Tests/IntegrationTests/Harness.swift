// Test harness for the real binaries: start a server on port 0 with its output in files, wait
// for its `listening on` line by polling, talk to it over plain blocking sockets, stop it by
// PID (SIGTERM, then SIGKILL after a deadline). Nothing here sleeps for a fixed time when it
// can poll for the condition instead.

import Foundation
import Glibc
import LinkRingCore
import Testing

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum Binaries {
    /// The build folder with the executables: $LINKRING_BIN_DIR, else the test bundle's folder.
    static var directory: URL {
        if let override = environment("LINKRING_BIN_DIR") { return URL(fileURLWithPath: override) }
        return testBuildDirectory
    }

    /// The folder `swift test` built the executables into, next to the test bundle.
    static var testBuildDirectory: URL {
        var url = Bundle.main.bundleURL
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("linkring-node").path) && url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url
    }

    /// Whether the executables are built with a sanitizer (scripts/sanitize.bash says so in
    /// $LINKRING_SANITIZED): their memory figures are the sanitizer's, not LinkRing's.
    static var areSanitized: Bool { environment("LINKRING_SANITIZED") != nil }

    /// How much longer a test waits for a server that is sanitized: AddressSanitizer makes it
    /// several times slower, and CI runs the suites in parallel on two cores (a 3,000-request
    /// pipeline through an unoptimised sanitized proxy once went 5 s without an answer there,
    /// and passes alone in a minute).
    static var waitScale: Int { areSanitized ? 6 : 1 }

    static var node: String { directory.appendingPathComponent("linkring-node").path }
    static var proxy: String { directory.appendingPathComponent("linkring-proxy").path }

    /// A node built with LINKRING_TEST_HOOKS (crash points): $LINKRING_HOOKS_BIN_DIR, else the
    /// debug build `swift test` made (Package.swift defines the condition for debug builds).
    static var nodeWithTestHooks: String {
        let folder = environment("LINKRING_HOOKS_BIN_DIR").map { URL(fileURLWithPath: $0) } ?? testBuildDirectory
        return folder.appendingPathComponent("linkring-node").path
    }

    /// The release node operators run: $LINKRING_RELEASE_BIN_DIR, else this package's .build/release.
    static var releaseNode: String {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = environment("LINKRING_RELEASE_BIN_DIR").map { URL(fileURLWithPath: $0) }
            ?? packageRoot.appendingPathComponent(".build/release")
        return folder.appendingPathComponent("linkring-node").path
    }

    private static func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }
}

func makeTemporaryDirectory() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("linkring-test-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A child process whose stdout and stderr go to files.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let outputPath: String
    let errorPath: String
    private(set) var port = 0
    private(set) var host = "127.0.0.1"

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let logs = makeTemporaryDirectory()
        outputPath = logs + "/stdout"
        errorPath = logs + "/stderr"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        try process.run()
    }

    /// Starts a server and waits for `listening on HOST:PORT`.
    static func start(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                      timeoutMs: Int = 15_000) throws -> ServerProcess {
        let server = try ServerProcess(executable, arguments, environment: environment)
        try server.waitUntilListening(timeoutMs: timeoutMs)
        return server
    }

    func waitUntilListening(timeoutMs: Int) throws {
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        while Date() < deadline {
            if let line = output.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) {
                let address = try HostPort(parsing: String(line.dropFirst("listening on ".count)))
                host = address.host
                port = address.port
                return
            }
            if !process.isRunning { throw HarnessError("exited with \(process.terminationStatus) before listening: \(errors)") }
            usleep(5_000)
        }
        throw HarnessError("not listening after \(timeoutMs) ms: \(errors)")
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
    var pid: Int32 { process.processIdentifier }

    /// SIGTERM, wait up to `timeoutMs`, then SIGKILL. Returns the exit status (or -signal).
    @discardableResult
    func stop(timeoutMs: Int = 10_000) -> Int32 {
        guard process.isRunning else { return exitCode }
        kill(pid, SIGTERM)
        if waitForExit(timeoutMs: timeoutMs) { return exitCode }
        kill(pid, SIGKILL)
        _ = waitForExit(timeoutMs: 5_000)
        return -9
    }

    func kill9() {
        kill(pid, SIGKILL)
        _ = waitForExit(timeoutMs: 5_000)
    }

    func waitForExit(timeoutMs: Int) -> Bool {
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning { return false }
        process.waitUntilExit()
        return true
    }

    var exitCode: Int32 {
        process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

/// Runs a command to completion; returns its exit code and stderr+stdout.
func runToExit(_ executable: String, _ arguments: [String], timeoutMs: Int = 15_000) throws -> (code: Int32, output: String) {
    let server = try ServerProcess(executable, arguments)
    guard server.waitForExit(timeoutMs: timeoutMs) else {
        server.kill9()
        throw HarnessError("\(executable) did not exit within \(timeoutMs) ms")
    }
    return (server.exitCode, server.errors + server.output)
}

struct TestResponse {
    var status: Int
    var headers: [String: String]
    var body: String
    var isKeepAlive: Bool
}

/// Calls `body` with the IPv4 socket address `host`:`port` and its length (connect, bind).
func withIPv4Address(_ host: String, _ port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    inet_pton(AF_INET, host, &address.sin_addr)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

/// A blocking HTTP/1.1 client on one TCP connection, with time-outs on every wait.
final class TestClient {
    private let socket: Int32
    private var buffer: [UInt8] = []

    /// Connects to `host:port`; from `sourceAddress` when given (e.g. 127.0.0.2: another
    /// client address on the same machine, which Linux routes over loopback).
    init(port: Int, host: String = "127.0.0.1", sourceAddress: String? = nil) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if let sourceAddress {
            try Self.call(socket, "bind to \(sourceAddress)", host: sourceAddress, port: 0, Glibc.bind)
        }
        try Self.call(socket, "connect to \(port)", host: host, port: port, Glibc.connect)
    }

    /// `operation` (bind or connect) on `socket` with the IPv4 address `host:port`; closes the
    /// socket and throws when it fails.
    private static func call(_ socket: Int32, _ what: String, host: String, port: Int,
                             _ operation: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32) throws {
        let status = withIPv4Address(host, port) { operation(socket, $0, $1) }
        guard status == 0 else {
            Glibc.close(socket)
            throw HarnessError("\(what) failed: errno \(errno)")
        }
    }

    deinit { Glibc.close(socket) }

    /// Ends the connection now (both directions); the descriptor is closed with the client.
    func close() { Glibc.shutdown(socket, Int32(SHUT_RDWR)) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw HarnessError("send failed: errno \(errno)") }
            offset += sent
        }
    }

    /// Sends all of `bytes` unless the server stops taking them for `timeoutMs`; returns the
    /// bytes sent (a test of a stalled server must not hang in send).
    @discardableResult
    func send(_ bytes: [UInt8], timeoutMs: Int) -> Int {
        Self.send(bytes, on: socket, timeoutMs: timeoutMs)
    }

    /// Sends `bytes` from another thread while this one reads: a client that never waits for an
    /// answer before writing its next request. `wait()` gives the bytes sent.
    func sendConcurrently(_ bytes: [UInt8], timeoutMs: Int) -> ConcurrentSend {
        let sending = ConcurrentSend()
        let socket = socket
        Thread.detachNewThread { sending.finish(Self.send(bytes, on: socket, timeoutMs: timeoutMs)) }
        return sending
    }

    private static func send(_ bytes: [UInt8], on socket: Int32, timeoutMs: Int) -> Int {
        var offset = 0
        while offset < bytes.count {
            var poller = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
            guard poll(&poller, 1, Int32(timeoutMs)) > 0 else { return offset }
            let sent = bytes.withUnsafeBytes {
                Glibc.send(socket, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if sent > 0 { offset += sent } else if errno != EAGAIN && errno != EINTR { return offset }
        }
        return offset
    }

    /// Reads more bytes; false on EOF or error; throws on time-out.
    private func receive(timeoutMs: Int) throws -> Bool {
        var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeoutMs)) > 0 else { throw HarnessError("no answer within \(timeoutMs) ms") }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer += chunk[..<count]
        return true
    }

    func readResponse(isHead: Bool = false, timeoutMs: Int = 10_000) throws -> TestResponse {
        while true {
            switch HTTPResponseParser.parse(buffer, from: 0, to: buffer.count, isHeadRequest: isHead, recordingFields: true) {
            case .response(let head):
                var headers: [String: String] = [:]
                for field in head.fields {
                    headers[String(decoding: buffer[field.name], as: UTF8.self).lowercased()] = String(decoding: buffer[field.value], as: UTF8.self)
                }
                let response = TestResponse(status: head.status, headers: headers,
                                            body: String(decoding: buffer[head.body], as: UTF8.self), isKeepAlive: head.isKeepAlive)
                buffer.removeFirst(head.end)
                return response
            case .failure(let reason):
                throw HarnessError("bad response: \(reason): \(String(decoding: buffer, as: UTF8.self))")
            case .needMore:
                guard try receive(timeoutMs: timeoutMs) else {
                    throw HarnessError("connection closed before a whole response: \(String(decoding: buffer, as: UTF8.self))")
                }
            }
        }
    }

    /// Reads one response and returns its body as raw bytes (for binary bodies).
    func readRawResponseBody(timeoutMs: Int = 10_000) throws -> [UInt8] {
        while true {
            switch HTTPResponseParser.parse(buffer, from: 0, to: buffer.count) {
            case .response(let head):
                let body = Array(buffer[head.body])
                buffer.removeFirst(head.end)
                return body
            case .failure(let reason):
                throw HarnessError("bad response: \(reason)")
            case .needMore:
                guard try receive(timeoutMs: timeoutMs) else { throw HarnessError("connection closed before a whole response") }
            }
        }
    }

    /// True when the server closes the connection within `timeoutMs` (bytes before EOF are kept).
    func isClosedByServer(timeoutMs: Int = 5_000) -> Bool {
        do {
            while try receive(timeoutMs: timeoutMs) {}
            return true
        } catch {
            return false
        }
    }

    /// Sends one request and reads its answer.
    func request(_ method: String, _ target: String, headers: [String] = [], timeoutMs: Int = 10_000) throws -> TestResponse {
        let lines = ["\(method) \(target) HTTP/1.1", "Host: test"] + headers
        try send(lines.joined(separator: "\r\n") + "\r\n\r\n")
        return try readResponse(isHead: method == "HEAD", timeoutMs: timeoutMs)
    }
}

/// The bytes a `sendConcurrently` sent, once it ends.
final class ConcurrentSend: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var sent = 0

    fileprivate func finish(_ count: Int) {
        sent = count
        done.signal()
    }

    func wait() -> Int {
        done.wait()
        return sent
    }
}

/// A PUT with a body on a fresh connection (the internal versioned write).
func put(_ port: Int, _ target: String, body: String, headers: [String] = []) throws -> TestResponse {
    try request(port, "PUT", target, body: Array(body.utf8), headers: headers)
}

/// A request with a body on a fresh connection.
func request(_ port: Int, _ method: String, _ target: String, body: [UInt8], headers: [String] = []) throws -> TestResponse {
    let client = try TestClient(port: port)
    let lines = ["\(method) \(target) HTTP/1.1", "Host: test", "Content-Length: \(body.count)"] + headers
    try client.send(Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + body)
    return try client.readResponse()
}

/// Writes `token` and a newline to a new file of mode 0600 (as the scripts do) and returns its path.
func writeTokenFile(_ token: String, in directory: String = makeTemporaryDirectory()) throws -> String {
    let path = directory + "/cluster-token"
    guard FileManager.default.createFile(atPath: path, contents: Data((token + "\n").utf8),
                                         attributes: [.posixPermissions: 0o600]) else {
        throw HarnessError("cannot write \(path)")
    }
    return path
}

/// An error page's "Could not perform …" sentence (why a proxy answered 503), if it has one.
func failureReason(inPage body: String) -> String? {
    guard let start = body.range(of: "Could not perform") else { return nil }
    return String(body[start.lowerBound...].prefix { $0 != "<" }.prefix(200))
}

/// One request on a fresh connection.
func request(_ port: Int, _ method: String, _ target: String, headers: [String] = []) throws -> TestResponse {
    try TestClient(port: port).request(method, target, headers: headers)
}

/// A node on an ephemeral port with a fresh data directory (or the given one).
/// A data directory whose log holds c1, c2, c3 (key "cN", value "http://cN"), the second record
/// corrupt (a key byte flipped): the directory, the log's path and each record's byte offset.
func makeDataWithCorruptSecondRecord() throws -> (data: String, log: String, starts: [Int]) {
    let (node, data) = try startNode()
    for name in ["c1", "c2", "c3"] { _ = try request(node.port, "PUT", "/?short=\(name)&long=http://\(name)") }
    #expect(node.stop() == 0)
    let log = data + "/linkring-0000000001.log"
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: log)))
    let recordBytes = 16 + 2 + 9 + 4
    let starts = [8, 8 + recordBytes, 8 + 2 * recordBytes]
    bytes[starts[1] + 17] ^= 0xFF
    try Data(bytes).write(to: URL(fileURLWithPath: log))
    return (data, log, starts)
}

func startNode(data: String? = nil, _ extra: [String] = []) throws -> (ServerProcess, String) {
    let directory = data ?? makeTemporaryDirectory()
    let node = try ServerProcess.start(Binaries.node, ["--listen", "127.0.0.1:0", "--data", directory] + extra)
    return (node, directory)
}

/// The sum of every sample of the metric `name` in the /_/metrics of the process at `port`
/// (one per node for the proxy's `linkring_node_…` families).
func metricSum(_ port: Int, _ name: String) throws -> Int {
    let metrics = try request(port, "GET", "/_/metrics").body
    return metrics.split(separator: "\n").filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
        .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
}
