// A blocking client socket for tests of a server on a loop: it connects before the loop runs
// (the kernel completes the handshake, the loop accepts later) or from another thread.

import Foundation
import Glibc
import LinkRingUV

/// A blocking socket connected to 127.0.0.1:`port` (the kernel completes the handshake before
/// the server's loop accepts); closed on deinit.
final class BlockingClient {
    private let socket: Int32

    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw UVError(-errno, "connect") }
    }

    /// Answers time out after this many seconds (`receive`).
    func setReceiveTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Bytes the server sent, at most `bytes`; empty on end, error or time-out.
    func receive(upTo bytes: Int = 65_536) -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: bytes)
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(chunk[..<count]) : []
    }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads and drops every answer on another thread, so that the server's output never
    /// fills (a full output would stop the pipeline by itself).
    func drainAnswers() {
        let socket = socket
        Thread.detachNewThread {
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while chunk.withUnsafeMutableBytes({ recv(socket, $0.baseAddress, $0.count, 0) }) > 0 {}
        }
    }

    deinit {
        shutdown(socket, Int32(SHUT_RDWR))
        Glibc.close(socket)
    }
}
