// A node's id: 16 hex digits drawn at random when its data directory is first used, kept in
// DIR/node-id and reported in /_/health. It names the data (the node), not an address, so two
// lines of a hosts file that reach one node are told apart from two nodes (HostsAliases.swift),
// and a node recognises itself among its peers.

package enum NodeIdentity {
    /// Hex digits of an id.
    package static let digits = 16
    package static let fileName = "node-id"

    /// The id made of `value` (the caller draws it at random): 16 hex digits, zero-padded.
    package static func make(from value: UInt64) -> String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: digits - hex.count) + hex
    }

    /// The id in a node-id file's text (16 lower-case hex digits, one newline after them), or nil.
    package static func parse(_ text: String) -> String? {
        let id = text.hasSuffix("\n") ? String(text.dropLast()) : text
        let isHex = id.utf8.allSatisfy { ASCII.isDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
        return id.utf8.count == digits && isHex ? id : nil
    }
}
