// The cluster's hosts file: one `host:port` per line; `#` starts a comment; blank lines are
// ignored. Every process of a cluster reads the same file, so every one derives the same ring.
// A missing, empty or malformed file, or a duplicate entry, is an error naming the line.

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
}
