// The cluster's hosts file: one `host:port` per line; `#` starts a comment; blank lines are
// ignored. Every process of a cluster reads the same file, so every one derives the same ring.
// A missing, empty or malformed file, or a duplicate entry, is an error naming the line.
//
// A running proxy re-reads the file on SIGHUP, possibly while an editor or a script is still
// writing it: a file whose last line has no newline may be cut mid-write (`127.0.0.1:250` of
// `127.0.0.1:25003`), so `parseComplete` refuses it and the proxy keeps its ring. Operators
// and scripts replace the file by rename (write a new one, `mv` it over), which is atomic.

package enum HostsFile {
    package static func parse(_ text: String, source: String = "hosts file") throws -> [HostPort] {
        var hosts: [HostPort] = []
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let entry = String(line).trimmingSpaces()
            if entry.isEmpty { continue }
            let host: HostPort
            do {
                host = try HostPort(parsing: entry)
            } catch {
                throw CommandLineError("\(source) line \(lineNumber): \(error)")
            }
            guard host.port > 0 else { throw CommandLineError("\(source) line \(lineNumber): port 0 is not a node address") }
            guard !hosts.contains(host) else { throw CommandLineError("\(source) line \(lineNumber): \(host) is listed twice") }
            hosts.append(host)
        }
        guard !hosts.isEmpty else { throw CommandLineError("\(source) lists no node (one host:port per line)") }
        return hosts
    }

    /// `parse`, for a file re-read while the cluster runs: a file that does not end with a
    /// newline is refused as possibly half-written.
    package static func parseComplete(_ text: String, source: String = "hosts file") throws -> [HostPort] {
        guard text.utf8.last == UInt8(ascii: "\n") else {
            throw CommandLineError("\(source) does not end with a newline: it may be half-written. "
                + "Write the new file elsewhere and rename it over the old one (mv), then send SIGHUP again.")
        }
        return try parse(text, source: source)
    }
}
