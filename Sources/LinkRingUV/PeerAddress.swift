// Who is on the other end of a stream, as a small hashable value: the server counts its
// connections per client address with it (--max-connections-per-address), once per accepted
// connection, never per request.
//
// An IPv4 address is kept in its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so one type holds
// both families and the same client counts once whichever way its socket was accepted.
//
// Also here: giving freed heap memory back to the system (glibc's malloc_trim), which the
// server does after many connections closed, since glibc keeps freed memory in its arenas.

import CUV
import Glibc

/// A peer's IP address (the port is not part of it: one client opens many connections).
package struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address's 128 bits, most significant first.
    package let high: UInt64
    package let low: UInt64

    fileprivate init?(_ storage: inout sockaddr_storage) {
        switch Int32(storage.ss_family) {
        case AF_INET:
            let address = UInt32(bigEndian: cuv_storage_as_in(&storage).pointee.sin_addr.s_addr)
            high = 0
            low = 0xFFFF_0000_0000 | UInt64(address)
        case AF_INET6:
            let bytes = withUnsafeBytes(of: cuv_storage_as_in6(&storage).pointee.sin6_addr) { Array($0) }
            high = Self.bigEndianWord(bytes[0..<8])
            low = Self.bigEndianWord(bytes[8..<16])
        default:
            return nil
        }
    }

    private static func bigEndianWord(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Dotted for IPv4 (mapped), else eight hexadecimal groups: for log lines.
    package var description: String {
        if high == 0 && low >> 32 == 0xFFFF {
            return (0..<4).map { String((low >> (24 - 8 * UInt64($0))) & 0xFF) }.joined(separator: ".")
        }
        let words = [high, low]
        return (0..<8).map { String((words[$0 / 4] >> (48 - 16 * UInt64($0 % 4))) & 0xFFFF, radix: 16) }.joined(separator: ":")
    }
}

extension TCPStream {
    /// The peer's address, or nil when the socket is no longer connected (reset meanwhile).
    package func peerAddress() -> PeerAddress? {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        guard uv_tcp_getpeername(handle, cuv_storage_as_sockaddr(&storage), &length) == 0 else { return nil }
        return PeerAddress(&storage)
    }
}

package enum HeapMemory {
    /// Gives the heap's free memory back to the system (malloc_trim: the top of every arena
    /// and whole free pages inside them). It walks the free lists: call it now and then, not
    /// per request.
    package static func giveBackFreed() {
        _ = malloc_trim(0)
    }
}
