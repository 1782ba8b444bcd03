// A host and a port, as the hosts file and the --listen/--self options give them, parsed and
// printed as HOST:PORT (IPv6 as [HOST]:PORT). A host is a numeric address (connected to as
// written, never looked up) or a name (resolved off the loop: NameRecord, NameResolver).

/// `HOST:PORT`, with `[v6]:PORT` for IPv6 literals.
package struct HostPort: Sendable, Hashable, CustomStringConvertible {
    package var host: String
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    package init(parsing text: String) throws {
        let trimmed = text.trimmingSpaces()
        guard let colon = trimmed.lastIndex(of: ":") else {
            throw CommandLineError("'\(text)' is not HOST:PORT")
        }
        var host = String(trimmed[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(" ") else { throw CommandLineError("'\(text)' has no host") }
        guard let port = Int(trimmed[trimmed.index(after: colon)...]), (0...65535).contains(port) else {
            throw CommandLineError("'\(text)' does not end in a port from 0 to 65535")
        }
        self.init(host: host, port: port)
    }

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// True for an IPv4 dotted quad (no leading zeros, as inet_pton reads it) or an IPv6
    /// literal (a name never contains a colon): such a host costs no name lookup.
    package var isNumericAddress: Bool { host.contains(":") || Self.isDottedQuad(host) }

    static func isDottedQuad(_ text: String) -> Bool {
        let parts = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            guard (1...3).contains(part.count), part.allSatisfy(ASCII.isDigit), part.first != UInt8(ascii: "0") || part.count == 1,
                  let value = Int(String(decoding: part, as: UTF8.self)) else { return false }
            return value <= 255
        }
    }
}
