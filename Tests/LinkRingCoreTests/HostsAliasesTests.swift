// Two lines of a hosts file that name one node: found by connect address and by reported node
// id, the later line named as the alias, the message naming both lines; the node id's format;
// a refused entry never comes back; the entries keep their line numbers.

import Testing
@testable import LinkRingCore

@Suite("Hosts aliases")
struct HostsAliasesTests {
    let text = "# cluster\n127.0.0.1:25001\n127.0.0.1:25002\n\nlocalhost:25001\n127.0.0.1:25003\n"

    @Test("entries keep the line that lists them")
    func entryLines() throws {
        let entries = try HostsFile.entries(text, source: "hosts.txt")
        #expect(entries.map(\.line) == [2, 3, 5, 6])
        #expect(entries[2].address == HostPort(host: "localhost", port: 25001))
    }

    @Test("an entry written twice is refused naming both lines")
    func sameTextTwice() {
        #expect(throws: CommandLineError("hosts.txt line 4: 127.0.0.1:25001 is listed twice (line 2 and line 4)")) {
            try HostsFile.entries("# c\n127.0.0.1:25001\n127.0.0.1:25002\n127.0.0.1:25001\n", source: "hosts.txt")
        }
    }

    @Test("127.0.0.1:25001 and localhost:25001 connect to one address: the later line is the alias, both lines named")
    func byAddress() throws {
        let entries = try HostsFile.entries(text, source: "hosts.txt")
        let connectAddresses: [HostPort?] = [HostPort(host: "127.0.0.1", port: 25001), HostPort(host: "127.0.0.1", port: 25002),
                                             HostPort(host: "127.0.0.1", port: 25001), nil]
        let aliases = HostsAliases.byAddress(connectAddresses)
        #expect(aliases == [NodeAlias(earlier: 0, later: 2, evidence: "both connect to 127.0.0.1:25001")])
        #expect(HostsAliases.message(aliases[0], entries: entries, source: "hosts.txt")
                == "hosts.txt line 2 (127.0.0.1:25001) and line 5 (localhost:25001) are one node (both connect to 127.0.0.1:25001)")
    }

    @Test("same host on another port, or an address not known yet, is no alias")
    func noAlias() {
        #expect(HostsAliases.byAddress([HostPort(host: "127.0.0.1", port: 1), HostPort(host: "127.0.0.1", port: 2), nil, nil]).isEmpty)
        #expect(HostsAliases.byNodeID(["00000000000000aa", nil, "00000000000000bb", nil]).isEmpty)
    }

    @Test("two entries whose nodes report one id are one node; a third with it is an alias of the first")
    func byNodeID() {
        let aliases = HostsAliases.byNodeID(["00000000000000aa", "00000000000000bb", "00000000000000aa", "00000000000000aa"])
        #expect(aliases.map(\.later) == [2, 3] && aliases.allSatisfy { $0.earlier == 0 })
        #expect(aliases[0].evidence == "both answer as node 00000000000000aa")
    }

    @Test("a node id is 16 lower-case hex digits, read back as written; anything else is refused")
    func nodeIdentity() {
        let id = NodeIdentity.make(from: 0x00ab_cdef_0123_4567)
        #expect(id == "00abcdef01234567" && NodeIdentity.make(from: .max) == "ffffffffffffffff")
        #expect(NodeIdentity.parse(id + "\n") == id && NodeIdentity.parse(id) == id)
        for bad in ["", "\n", String(id.dropLast()), id + "0", "0123456789ABCDEF", "0123456789abcdeg", id + "\n\n", " " + id] {
            #expect(NodeIdentity.parse(bad) == nil, "\(bad.debugDescription)")
        }
    }

    @Test("the proxy reads the node id from /_/health; a missing or overlong one is nil")
    func reportedNodeID() {
        let health = Array(#"{"state":"ready","node":"0123456789abcdef","keys":1,"sync":{"peers":2,"rounds":7}}"#.utf8)
        #expect(NodeReport.parse(health).nodeID == "0123456789abcdef")
        #expect(NodeReport.parse(Array(#"{"state":"ready","keys":1}"#.utf8)).nodeID == nil)
        #expect(NodeReport.parse(Array(#"{"node":"0123456789abcdef0"}"#.utf8)).nodeID == nil)
    }

    @Test("a refused entry is not usable and no answer or failure changes that")
    func refusedForGood() {
        var health = NodeHealth(failuresToDown: 2)
        health.recordPing(nowMs: 1, roundTripMs: 1, report: NodeReport(readiness: .ready))
        let refused = health.refuse(nowMs: 2)
        #expect(refused && !health.isUsable && !health.isReady && health.state == .refused)
        let changes = [health.recordSuccess(nowMs: 3, roundTripMs: 1, readiness: .ready), health.recordFailure(nowMs: 4),
                       health.recordFailure(nowMs: 5), health.refuse(nowMs: 7)]
        #expect(changes == [false, false, false, false])
        #expect(health.state == .refused && health.downForMs(nowMs: 6) == nil, "the restart command is not run for it")
    }
}
