// The cluster token, without sockets: both executables read it from --cluster-token or
// --cluster-token-file (trimmed, checked, never both), and the node's gate admits a request
// only with the exact token, or when it is a health check.

import Testing
@testable import LinkRingCore

@Suite("Cluster token")
struct ClusterTokenTests {
    /// A file system of one token file, `token.txt`; any other path cannot be read.
    static func readFile(_ contents: String) -> (String) throws -> String {
        { path in
            if path == "token.txt" { return contents }
            if path == "hosts.txt" { return "127.0.0.1:9001\n127.0.0.1:9002\n" }
            throw CommandLineError("read \(path): permission denied")
        }
    }

    func node(_ extra: [String], file: String = "") throws -> NodeOptions? {
        try NodeOptions.parse(["--listen", "127.0.0.1:9001", "--data", "d"] + extra, readFile: Self.readFile(file))
    }

    func proxy(_ extra: [String], file: String = "") throws -> ProxyOptions? {
        try ProxyOptions.parse(["--listen", "127.0.0.1:8080", "--hosts", "hosts.txt"] + extra, readFile: Self.readFile(file))
    }

    /// The message of the CommandLineError `parse` throws, or a note that it threw none.
    func message(_ parse: () throws -> Any?) -> String {
        do {
            _ = try parse()
            return "(no error)"
        } catch {
            return "\(error)"
        }
    }

    @Test("the file's token is read with the newline and spaces around it trimmed, by node and proxy alike")
    func fromFile() throws {
        for contents in ["s3cret", "s3cret\n", "  s3cret \r\n\n", "\ts3cret\t"] {
            #expect(try node(["--cluster-token-file", "token.txt"], file: contents)?.clusterToken == bytes("s3cret"), "\(contents.debugDescription)")
            #expect(try proxy(["--cluster-token-file", "token.txt"], file: contents)?.clusterToken == bytes("s3cret"))
        }
        #expect(try node(["--cluster-token", "abc"])?.clusterToken == bytes("abc"))
        #expect(try proxy(["--cluster-token=abc"])?.clusterToken == bytes("abc"))
        #expect(try node([])?.clusterToken == nil && proxy([])?.clusterToken == nil, "no option, no token: every route open")
    }

    @Test("an empty or blank file, an unreadable file, both options, or a bad token are refused with a clear message",
          arguments: [
              (["--cluster-token-file", "token.txt"], "", "the cluster token file token.txt is empty"),
              (["--cluster-token-file", "token.txt"], " \n\n", "the cluster token file token.txt is empty"),
              (["--cluster-token-file", "missing.txt"], "x", "--cluster-token-file: cannot read the cluster token: read missing.txt"),
              (["--cluster-token", "a", "--cluster-token-file", "token.txt"], "a", "not both"),
              (["--cluster-token", ""], "", "--cluster-token is empty"),
              (["--cluster-token", "has space"], "", "visible ASCII only"),
              (["--cluster-token-file", "token.txt"], "two\nlines", "visible ASCII only"),
              (["--cluster-token-file", "token.txt"], String(repeating: "x", count: 257), "at most 256"),
          ])
    func refused(arguments: [String], file: String, expected: String) {
        let fromNode = message { try node(arguments, file: file) }
        let fromProxy = message { try proxy(arguments, file: file) }
        #expect(fromNode.contains(expected), "node: \(fromNode)")
        #expect(fromProxy.contains(expected), "proxy: \(fromProxy)")
    }

    @Test("both executables list both options in their usage")
    func usage() {
        for usage in [NodeOptions.usage, ProxyOptions.usage] {
            #expect(usage.contains("--cluster-token TOKEN") && usage.contains("--cluster-token-file PATH"))
        }
    }

    @Test("the header line a process sends, and none without a token")
    func headerLine() {
        #expect(ClusterToken.headerLine(bytes("t0k")) == bytes("X-Cluster-Token: t0k\r\n"))
        #expect(ClusterToken.headerLine(nil).isEmpty)
    }

    func admits(_ request: String) throws -> Bool {
        let text = request + "\r\nHost: x\r\n\r\n"  // HTTP/1.1 needs Host
        let parsed = try #require(head(parseWhole(text)), "\(text)")
        return ClusterTokenGate(token: bytes("s3cret")).admits(parsed, bytes(text))
    }

    @Test("the gate admits the exact token on any route, and without it only GET/HEAD /_/health")
    func gate() throws {
        for route in ["GET /k", "HEAD /k", "PUT /?short=k&long=http://x", "DELETE /k", "GET /_/kv?short=k",
                      "GET /_/digests", "GET /_/keys?r=0&from=0", "POST /_/records", "GET /_/other", "POST /_/health",
                      "GET /_/healthz", "GET /_/health/x", "GET /", "OPTIONS /_/health"] {
            #expect(try !admits("\(route) HTTP/1.1"), "\(route) without a token")
            #expect(try !admits("\(route) HTTP/1.1\r\nX-Cluster-Token: wrong"), "\(route) with a wrong token")
            #expect(try !admits("\(route) HTTP/1.1\r\nX-Cluster-Token: s3cre"), "\(route) with a prefix of the token")
            #expect(try !admits("\(route) HTTP/1.1\r\nX-Cluster-Token: s3crett"), "\(route) with the token and more")
            #expect(try admits("\(route) HTTP/1.1\r\nx-cluster-token:  s3cret "), "\(route) with the token")
        }
        for health in ["GET /_/health", "HEAD /_/health", "GET /_/health?verbose=1"] {
            #expect(try admits("\(health) HTTP/1.1"), "\(health) needs no token")
        }
    }

    @Test("the cluster token compares equal only when identical")
    func constantTime() {
        let buffer = bytes("xxsecretxx")
        #expect(ConstantTime.equals(buffer, 2..<8, bytes("secret")))
        #expect(!ConstantTime.equals(buffer, 2..<8, bytes("secreT")))
        #expect(!ConstantTime.equals(buffer, 2..<7, bytes("secret")))
        #expect(!ConstantTime.equals(buffer, 2..<9, bytes("secret")))
    }
}
