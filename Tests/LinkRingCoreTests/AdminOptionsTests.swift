// Where the operator routes are served: --admin-listen and --admin-on-public as both executables
// parse them (and the addresses a tired operator might give twice), who may read the routes on
// the public port in each configuration, and which peers count as this host.

import Testing
@testable import LinkRingCore

@Suite("Admin address and operator access")
struct AdminOptionsTests {
    static let hosts = "127.0.0.1:9001\n127.0.0.1:9002\n"

    func proxy(_ extra: [String], listen: String = "127.0.0.1:8080") throws -> AdminOptions {
        try #require(try ProxyOptions.parse(["--listen", listen, "--hosts", "h.txt"] + extra, readFile: { _ in Self.hosts })).admin
    }

    func node(_ extra: [String], listen: String = "127.0.0.1:9001") throws -> AdminOptions {
        try #require(try NodeOptions.parse(["--listen", listen, "--data", "d", "--hosts", "h.txt"] + extra, readFile: { _ in Self.hosts })).admin
    }

    @Test("by default there is no admin listener and the public port answers this host only")
    func defaults() throws {
        for admin in [try proxy([]), try node([])] {
            #expect(admin == AdminOptions() && admin.publicAccess == .thisHostOnly)
        }
        #expect(try NodeOptions.parse(["--listen", "127.0.0.1:1", "--data", "d"])?.admin == AdminOptions(), "a lone node too")
    }

    @Test("--admin-listen names the admin listener and closes the public port; --admin-on-public opens it")
    func parsed() throws {
        let admin = HostPort(host: "127.0.0.1", port: 9180)
        #expect(try proxy(["--admin-listen", "127.0.0.1:9180"]) == AdminOptions(listen: admin))
        #expect(try proxy(["--admin-listen", "127.0.0.1:9180"]).publicAccess == .adminListenerOnly)
        #expect(try node(["--admin-listen=[::1]:9180"]).listen == HostPort(host: "::1", port: 9180))
        #expect(try proxy(["--admin-on-public"]).publicAccess == .everyone)
        let both = try node(["--admin-listen", "127.0.0.1:9180", "--admin-on-public"])
        #expect(both == AdminOptions(listen: admin, isOnPublic: true) && both.publicAccess == .everyone)
        #expect(try proxy(["--admin-listen", "127.0.0.1:0"], listen: "127.0.0.1:0").listen?.port == 0, "two free ports do not clash")
        #expect(try proxy(["--admin-listen", "10.0.0.5:8080"], listen: "127.0.0.1:8080").listen?.port == 8080, "another host, same port")
        #expect(try node(["--admin-listen", "0.0.0.0:9101"]).listen?.port == 9101, "a wildcard admin host on no node's port")
        #expect(ProxyOptions.usage.contains("--admin-listen HOST:PORT") && NodeOptions.usage.contains("--admin-on-public"))
    }

    @Test("bad or clashing admin addresses are refused with a message that names the problem", arguments: [
        (["--admin-listen", "localhost"], "--admin-listen: 'localhost' is not HOST:PORT"),
        (["--admin-listen", ":9180"], "--admin-listen: ':9180' has no host"),
        (["--admin-listen", "127.0.0.1:70000"], "--admin-listen: '127.0.0.1:70000' does not end in a port"),
        (["--admin-listen", ""], "--admin-listen: '' is not HOST:PORT"),
        (["--admin-listen", "127.0.0.1:8080"], "--admin-listen 127.0.0.1:8080 is the --listen address"),
        (["--admin-listen", "0.0.0.0:8080"], "--admin-listen 0.0.0.0:8080 overlaps the --listen address 127.0.0.1:8080"),
        (["--admin-listen", "[::]:8080"], "overlaps the --listen address"),
        (["--admin-listen", "127.0.0.1:9002"], "--admin-listen 127.0.0.1:9002 is a node's address in h.txt"),
        (["--admin-listen", "127.0.0.1:9180", "--admin-listen", "127.0.0.1:9181"], "--admin-listen is given more than once"),
        (["--admin-on-public=yes"], "--admin-on-public takes no value"),
        (["--admin-listen"], "--admin-listen needs a value"),
    ])
    func proxyRefuses(extra: [String], message: String) {
        #expect { try proxy(extra) } throws: { error in "\(error)".contains(message) }
    }

    @Test("a node refuses its own address, a peer's, and its --listen on a wildcard host", arguments: [
        (["--admin-listen", "127.0.0.1:9001"], "127.0.0.1:9001", "is the --listen address"),
        (["--admin-listen", "127.0.0.1:9002"], "127.0.0.1:9001", "is a node's address in h.txt"),
        (["--admin-listen", "127.0.0.1:9001", "--self", "127.0.0.1:9001"], "0.0.0.0:9001", "overlaps the --listen address 0.0.0.0:9001"),
    ])
    func nodeRefuses(extra: [String], listen: String, message: String) {
        #expect { try node(extra, listen: listen) } throws: { error in "\(error)".contains(message) }
    }

    @Test("who may read the operator routes: each access against each kind of request")
    func access() {
        let remote = { false }
        let local = { true }
        #expect(OperatorAccess.everyone.refusal(isForwarded: true, isFromThisHost: remote) == nil)
        #expect(OperatorAccess.thisHostOnly.refusal(isForwarded: false, isFromThisHost: local) == nil)
        #expect(OperatorAccess.thisHostOnly.refusal(isForwarded: false, isFromThisHost: remote) == OperatorAccess.fromElsewhere)
        #expect(OperatorAccess.thisHostOnly.refusal(isForwarded: true, isFromThisHost: local) == OperatorAccess.forwarded)
        #expect(OperatorAccess.adminListenerOnly.refusal(isForwarded: false, isFromThisHost: local) == OperatorAccess.onAdminListenerOnly)
        for refusal in [OperatorAccess.fromElsewhere, OperatorAccess.forwarded, OperatorAccess.onAdminListenerOnly] {
            #expect(refusal.status == .forbidden && refusal.reason.contains("--admin-listen"))
        }
        var asked = false
        _ = OperatorAccess.everyone.refusal(isForwarded: false) { asked = true; return true }
        _ = OperatorAccess.adminListenerOnly.refusal(isForwarded: false) { asked = true; return true }
        #expect(!asked, "the socket is asked only when the rule needs it")
    }

    @Test("a peer is this host when it is loopback or comes from the address it connected to", arguments: [
        ("127.0.0.1", "127.0.0.1", true), ("127.0.0.2", "127.0.0.1", true), ("127.255.0.9", "10.0.0.5", true),
        ("::1", "::1", true), ("::ffff:127.0.0.1", "::ffff:127.0.0.1", true), ("::FFFF:127.0.0.3", "::", true),
        ("10.0.0.5", "10.0.0.5", true), ("::ffff:10.0.0.5", "10.0.0.5", true), ("fe80::1", "FE80::1", true),
        ("10.0.0.6", "10.0.0.5", false), ("203.0.113.9", "127.0.0.1", false), ("::ffff:10.0.0.6", "::ffff:10.0.0.5", false),
        ("128.0.0.1", "127.0.0.1", false), ("2001:db8::1", "::1", false), ("::ffff:1.2.3.4", "::", false),
    ])
    func locality(peer: String, local: String, isThisHost: Bool) {
        #expect(PeerLocality.isThisHost(peer: peer, local: local) == isThisHost)
    }

    @Test("the start-up line says where the operator routes are and to whom")
    func described() {
        #expect(AdminOptions().describe(adminAddress: nil).contains("connections from this host only"))
        #expect(AdminOptions(isOnPublic: true).describe(adminAddress: nil).contains("to everyone"))
        let admin = AdminOptions(listen: HostPort(host: "127.0.0.1", port: 0))
        #expect(admin.describe(adminAddress: "127.0.0.1:41234") == "on the admin address 127.0.0.1:41234 only (--admin-listen)")
    }
}
