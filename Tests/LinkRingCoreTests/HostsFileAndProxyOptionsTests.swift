// The hosts file (comments, duplicates, bad lines) and the proxy's command line.

import Testing
@testable import LinkRingCore

@Suite("Hosts file and proxy options")
struct ClusterConfigTests {
    @Test("a re-read file must end with a newline: one cut mid-write is refused, a whole one parses")
    func halfWrittenFile() throws {
        let whole = "127.0.0.1:25001\n127.0.0.1:25002\n127.0.0.1:25003\n"
        #expect(try HostsFile.parseComplete(whole).count == 3)
        #expect(try HostsFile.parseComplete("# only comments\n127.0.0.1:1\n").count == 1)
        for cut in [whole.count - 1, whole.count - 4, 20] {
            let torn = String(whole.prefix(cut))
            #expect(throws: CommandLineError.self, "\(torn.debugDescription)") { try HostsFile.parseComplete(torn) }
        }
        #expect(try HostsFile.parse("127.0.0.1:1").count == 1, "at start-up the last newline may be missing")
    }

    @Test("comments, blank lines and spaces are ignored")
    func parses() throws {
        let hosts = try HostsFile.parse("# cluster\n127.0.0.1:9001\n\n  127.0.0.1:9002  # second\n[::1]:9003\n")
        #expect(hosts == [HostPort(host: "127.0.0.1", port: 9001), HostPort(host: "127.0.0.1", port: 9002), HostPort(host: "::1", port: 9003)])
    }

    @Test("empty, malformed and duplicate entries are refused, naming the line", arguments: [
        ("", "lists no node"), ("# only a comment\n", "lists no node"), ("127.0.0.1:9001\nnot-an-address\n", "line 2"),
        ("127.0.0.1:9001\n127.0.0.1:9001\n", "listed twice"), ("127.0.0.1:0\n", "port 0"), ("h:99999", "line 1"),
    ])
    func refused(text: String, message: String) {
        do {
            _ = try HostsFile.parse(text)
            Issue.record("\(text.debugDescription) should be refused")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    func proxy(_ arguments: [String], hosts: String = "127.0.0.1:9001\n127.0.0.1:9002\n127.0.0.1:9003\n") throws -> ProxyOptions? {
        try ProxyOptions.parse(arguments) { path in
            guard path == "hosts.txt" else { throw CommandLineError("cannot read \(path)") }
            return hosts
        }
    }

    @Test("proxy options parse; more replicas than nodes, a missing file and bad numbers are refused")
    func proxyOptions() throws {
        let options = try #require(try proxy(["--listen", "127.0.0.1:8080", "--hosts", "hosts.txt", "--replicas", "3",
                                              "--vnodes", "16", "--proxy-id", "7", "--status-interval-s", "0"]))
        #expect(options.nodes.count == 3 && options.replicas == 3 && options.vnodes == 16 && options.proxyID == 7)
        #expect(try proxy(["--help"]) == nil)
        #expect(throws: CommandLineError.self) { try proxy(["--listen", "h:1", "--hosts", "hosts.txt", "--replicas", "4"]) }
        #expect(throws: CommandLineError.self) { try proxy(["--listen", "h:1", "--hosts", "missing.txt"]) }
        #expect(throws: CommandLineError.self) { try proxy(["--listen", "h:1"]) }
        #expect(throws: CommandLineError.self) { try proxy(["--listen", "h:1", "--hosts", "hosts.txt", "--proxy-id", "1024"]) }
        #expect(throws: CommandLineError.self) { try proxy(["--listen", "h:1", "--hosts", "hosts.txt"], hosts: "") }
    }

    @Test("a node with --hosts must find itself in the file, or say why it starts without")
    func nodeFindsItself() throws {
        let read: (String) throws -> String = { _ in "127.0.0.1:9001\n127.0.0.1:9002\n" }
        let listed = try #require(try NodeOptions.parse(["--listen", "127.0.0.1:9002", "--data", "d", "--hosts", "h"], readFile: read))
        #expect(listed.selfAddress == HostPort(host: "127.0.0.1", port: 9002) && listed.nodes.count == 2)
        let viaSelf = try #require(try NodeOptions.parse(["--listen", "0.0.0.0:9001", "--self", "127.0.0.1:9001", "--data", "d", "--hosts", "h"], readFile: read))
        #expect(viaSelf.selfAddress == HostPort(host: "127.0.0.1", port: 9001))
        // Not listed: parsed, with the refusal the process gives unless its data directory served
        // the cluster (a node that left; NodeProcess checks DIR/membership, MembershipChangeTests).
        let unlisted = try #require(try NodeOptions.parse(["--listen", "127.0.0.1:9009", "--data", "d", "--hosts", "h"], readFile: read))
        #expect(!unlisted.isListed && unlisted.notListedProblem?.contains("127.0.0.1:9009 is not listed in h") == true)
        #expect(listed.isListed && listed.notListedProblem == nil)
        #expect(throws: CommandLineError.self) { try NodeOptions.parse(["--listen", "127.0.0.1:9001", "--data", "d", "--self", "127.0.0.1:9001"]) }
    }
}
