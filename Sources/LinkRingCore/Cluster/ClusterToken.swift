// The cluster token: one shared secret held by every process of a cluster. A node that has one
// answers only its health check without it (docs/DECISIONS.md, "A node with a token is not
// public"); the proxy and the peers send it as `X-Cluster-Token` on every request to a node.
//
//   --cluster-token TOKEN       on the command line (visible in `ps`: tests and development)
//   --cluster-token-file PATH   read once at start-up; whitespace around it (the newline an
//                               editor or `echo` adds) is trimmed. The scripts and the systemd
//                               units use this form, so the token never shows in `ps`.
//
// A token is 1…`Limits.clusterTokenBytesMax` visible ASCII bytes (no space, no control byte): it then goes into a
// header line as it is, and the request parser, which trims a value's surrounding spaces,
// hands it back unchanged.
//
//   request ─▶ ClusterTokenGate.admits ─┬─ token matches (constant time) ─▶ routed
//                                       ├─ GET/HEAD /_/health            ─▶ routed
//                                       └─ otherwise                     ─▶ 401 `refusal`

package enum ClusterToken {

    /// The two options, with the executable's own sentence for what the token does.
    static func specs(purpose: String) -> [OptionSpec] {
        [.value("cluster-token", "TOKEN", purpose + " (visible in ps: prefer --cluster-token-file)"),
         .value("cluster-token-file", "PATH", "read the cluster token from PATH (whitespace around it trimmed)")]
    }

    /// The token of `--cluster-token` or `--cluster-token-file`, nil when neither is given.
    /// Throws for both at once, an unreadable file, an empty or malformed token.
    package static func read(_ parsed: ParsedOptions, readFile: (String) throws -> String) throws -> [UInt8]? {
        try readSecret(parsed, option: "cluster-token", what: "cluster token", bytesMax: Limits.clusterTokenBytesMax, readFile: readFile)
    }

    /// A secret given as `--OPTION VALUE` or `--OPTION-file PATH` (the cluster token, the
    /// proxy's write token): nil when neither is given; 1…`bytesMax` visible ASCII bytes.
    static func readSecret(_ parsed: ParsedOptions, option: String, what: String, bytesMax: Int,
                           readFile: (String) throws -> String) throws -> [UInt8]? {
        let given = parsed.string(option)
        guard let path = parsed.string(option + "-file") else {
            return try given.map { try validated($0, source: "--" + option, what: what, bytesMax: bytesMax) }
        }
        guard given == nil else {
            throw CommandLineError("give --\(option) or --\(option)-file, not both")
        }
        let text: String
        do {
            text = try readFile(path)
        } catch {
            throw CommandLineError("--\(option)-file: cannot read the \(what): \(error)")
        }
        return try validated(trimmingWhitespace(text), source: "the \(what) file \(path)", what: what, bytesMax: bytesMax)
    }

    /// The header line a process sends to nodes: `X-Cluster-Token: TOKEN` and CRLF, or nothing.
    static func headerLine(_ token: [UInt8]?) -> [UInt8] {
        token.map { Array("X-Cluster-Token: ".utf8) + $0 + [ASCII.cr, ASCII.lf] } ?? []
    }

    static func validated(_ token: String, source: String, what: String = "cluster token",
                          bytesMax: Int = Limits.clusterTokenBytesMax) throws -> [UInt8] {
        let bytes = Array(token.utf8)
        guard !bytes.isEmpty else { throw CommandLineError("\(source) is empty: the \(what) must not be empty") }
        guard bytes.count <= bytesMax else {
            throw CommandLineError("\(source) holds \(bytes.count) bytes: a \(what) has at most \(bytesMax)")
        }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw CommandLineError("\(source): a \(what) is visible ASCII only (no space or control character)")
        }
        return bytes
    }

    static func trimmingWhitespace(_ text: String) -> String {
        var trimmed = Substring(text)
        while let first = trimmed.first, first.isWhitespace { trimmed = trimmed.dropFirst() }
        while let last = trimmed.last, last.isWhitespace { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }
}

/// What a node with a cluster token lets through: requests carrying the token, and its health
/// check, which reveals no data and which load balancers and the units' readiness check poll.
package struct ClusterTokenGate: Sendable {
    package let token: [UInt8]

    package init(token: [UInt8]) { self.token = token }

    /// The answer to a request the gate does not admit.
    package static let refusal = HTTPParseFailure(.unauthorized,
        "This node has a cluster token: every route but GET /_/health needs it in X-Cluster-Token. Clients go through the proxy.")

    /// True when the request carries the token (compared in constant time) or is a health check.
    package func admits(_ head: HTTPRequestHead, _ buffer: [UInt8]) -> Bool {
        if let given = head.clusterToken, ConstantTime.equals(buffer, given, token) { return true }
        return Self.isHealthCheck(head, buffer)
    }

    private static let healthPath: [UInt8] = Array("/_/health".utf8)

    /// `GET` or `HEAD` of `/_/health`, with or without a query.
    static func isHealthCheck(_ head: HTTPRequestHead, _ buffer: [UInt8]) -> Bool {
        guard head.method == .get || head.method == .head else { return false }
        let target = head.target
        guard target.count >= healthPath.count,
              ASCII.equals(buffer, target.lowerBound..<target.lowerBound + healthPath.count, healthPath) else { return false }
        return target.count == healthPath.count || buffer[target.lowerBound + healthPath.count] == ASCII.questionMark
    }
}
