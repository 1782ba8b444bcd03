// The cluster's hosts file: one `host:port` per line; `#` starts a comment; blank lines are
// ignored. One optional line `generation N` numbers the membership (Membership.swift): a
// changed file carries a higher number, so every process knows which of two files is newer. Every process of a cluster reads the same file, so every one derives the same ring.
// A missing, empty or malformed file, or an entry written twice, is an error naming the
// line(s). Each entry keeps its line number, so that an alias found later (two names of one
// node: HostsAliases.swift) is reported by the lines an operator must fix.
//
// A running proxy re-reads the file on SIGHUP, possibly while an editor or a script is still
// writing it: a file whose last line has no newline may be cut mid-write (`127.0.0.1:250` of
// `127.0.0.1:25003`), so `parseComplete` refuses it and the proxy keeps its ring. Operators
// and scripts replace the file by rename (write a new one, `mv` it over), which is atomic.

/// One node of the hosts file and the line that lists it.
package struct HostsEntry: Sendable, Equatable {
    package var address: HostPort
    package var line: Int

    package init(address: HostPort, line: Int) {
        self.address = address
        self.line = line
    }
}

package enum HostsFile {
    /// The entries of a hosts file, in file order.
    package static func entries(_ text: String, source: String = "hosts file") throws -> [HostsEntry] {
        try membership(text, source: source).entries
    }

    /// The keyword of the generation line.
    static let generationKeyword = "generation"

    /// The membership a hosts file describes: its entries and its generation (0 without the line).
    package static func membership(_ text: String, source: String = "hosts file") throws -> Membership {
        var entries: [HostsEntry] = []
        var generation: (number: UInt64, line: Int)? = nil
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let text = String(line).trimmingSpaces()
            if text.isEmpty { continue }
            if text.hasPrefix(generationKeyword) {
                let number = try parseGeneration(text, line: lineNumber, source: source)
                if let earlier = generation {
                    throw CommandLineError("\(source) line \(lineNumber): a second generation line (the first is line \(earlier.line))")
                }
                generation = (number, lineNumber)
                continue
            }
            let host: HostPort
            do {
                host = try HostPort(parsing: text)
            } catch {
                throw CommandLineError("\(source) line \(lineNumber): \(error)")
            }
            guard host.port > 0 else { throw CommandLineError("\(source) line \(lineNumber): port 0 is not a node address") }
            if let earlier = entries.first(where: { $0.address == host }) {
                throw CommandLineError("\(source) line \(lineNumber): \(host) is listed twice (line \(earlier.line) and line \(lineNumber))")
            }
            entries.append(HostsEntry(address: host, line: lineNumber))
        }
        guard !entries.isEmpty else { throw CommandLineError("\(source) lists no node (one host:port per line)") }
        return Membership(generation: generation?.number ?? 0, entries: entries)
    }

    /// `generation N`: N a decimal of at most `Limits.generationDigitsMax` digits.
    private static func parseGeneration(_ text: String, line: Int, source: String) throws -> UInt64 {
        let digits = text.dropFirst(generationKeyword.count).drop { $0 == " " || $0 == "\t" }
        guard digits.count < text.count - generationKeyword.count, !digits.isEmpty, digits.count <= Limits.generationDigitsMax,
              digits.allSatisfy({ $0.isASCII && $0.isNumber }), let number = UInt64(digits) else {
            throw CommandLineError("\(source) line \(line): '\(text)' is not 'generation N' (N: a number of at most "
                                   + "\(Limits.generationDigitsMax) digits)")
        }
        return number
    }

    /// `membership` of a complete file (`entriesOfComplete`).
    package static func membershipOfComplete(_ text: String, source: String = "hosts file") throws -> Membership {
        guard text.utf8.last == UInt8(ascii: "\n") else { throw halfWritten(source) }
        return try membership(text, source: source)
    }

    private static func halfWritten(_ source: String) -> CommandLineError {
        CommandLineError("\(source) does not end with a newline: it may be half-written. "
            + "Write the new file elsewhere and rename it over the old one (mv), then send SIGHUP again.")
    }

    /// The nodes of a hosts file, in file order.
    package static func parse(_ text: String, source: String = "hosts file") throws -> [HostPort] {
        try entries(text, source: source).map(\.address)
    }

    /// `entries`, for a file re-read while the cluster runs: a file that does not end with a
    /// newline is refused as possibly half-written.
    package static func entriesOfComplete(_ text: String, source: String = "hosts file") throws -> [HostsEntry] {
        try membershipOfComplete(text, source: source).entries
    }

    /// `parse` of a complete file (`entriesOfComplete`).
    package static func parseComplete(_ text: String, source: String = "hosts file") throws -> [HostPort] {
        try entriesOfComplete(text, source: source).map(\.address)
    }
}
