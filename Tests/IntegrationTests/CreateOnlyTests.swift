// Create-only writes, generated names, the write token and the pages, against real processes:
// four nodes, and two proxies racing for the same names (docs/DECISIONS.md "Create-only writes").

import Foundation
import Testing

/// Polls a proxy's /_/health until it answers 200 (it has heard from its nodes and can version writes).
func waitHealthy(_ port: Int) throws {
    let healthy = try waitFor(timeoutMs: 10_000) { try request(port, "GET", "/_/health").status == 200 }
    if !healthy { throw HarnessError("proxy on \(port) never became healthy") }
}

/// A create-only PUT (If-None-Match: *) with `extra` headers.
func createOnly(_ port: Int, _ short: String, _ long: String, _ extra: [String] = []) throws -> TestResponse {
    try request(port, "PUT", "/?short=\(short)&long=\(long)", headers: ["If-None-Match: *"] + extra)
}

func postForm(_ port: Int, _ form: String, headers: [String] = []) throws -> TestResponse {
    try request(port, "POST", "/", body: Array(form.utf8), headers: ["Content-Type: application/x-www-form-urlencoded"] + headers)
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int: Int] = [:]
    func set(_ index: Int, _ value: Int) { lock.lock(); values[index] = value; lock.unlock() }
    func get(_ index: Int) -> Int? { lock.lock(); defer { lock.unlock() }; return values[index] }
}

@Suite("Create-only writes and browser routes", .serialized)
struct CreateOnlyTests {
    @Test("two proxies race for one name, 60 times: exactly one gets 201, the other 412, and both then read the winner")
    func raceThroughTwoProxies() throws {
        let cluster = try TestCluster()
        let second = try ServerProcess.start(Binaries.proxy, ["--listen", "127.0.0.1:0", "--hosts", cluster.hostsPath,
                                                               "--ping-interval-ms", "50", "--status-interval-s", "0"])
        defer { second.stop() }
        try waitHealthy(cluster.proxy.port)
        try waitHealthy(second.port)
        let ports = [cluster.proxy.port, second.port]
        for round in 0..<60 {
            let results = ResultBox()
            DispatchQueue.concurrentPerform(iterations: 2) { side in
                let status = (try? createOnly(ports[side], "race\(round)", "http://winner.example/\(side)").status) ?? -1
                results.set(side, status)
            }
            let statuses = [results.get(0) ?? -1, results.get(1) ?? -1]
            #expect(statuses.sorted() == [201, 412], "round \(round): \(statuses)")
            guard let winner = statuses.firstIndex(of: 201) else { continue }
            for port in ports {
                #expect(try request(port, "GET", "/race\(round)").headers["location"] == "http://winner.example/\(winner)",
                        "round \(round): every proxy reads the winner's link")
            }
        }
    }

    @Test("If-None-Match: * never replaces a live link; a deleted name is free again; the old PUT still overwrites")
    func createOnlySemantics() throws {
        let cluster = try TestCluster()
        let port = cluster.proxy.port
        try waitHealthy(port)
        let made = try createOnly(port, "mine", "http://first.example/")
        #expect(made.status == 201 && made.headers["location"] == "http://test/mine")
        let again = try createOnly(port, "mine", "http://second.example/")
        #expect(again.status == 412 && again.body.contains("taken") && again.body.contains("<code>mine</code>"))
        #expect(try request(port, "GET", "/mine").headers["location"] == "http://first.example/", "a 412 changed nothing")
        #expect(try request(port, "DELETE", "/mine").status == 200)
        #expect(try createOnly(port, "mine", "http://third.example/").status == 201, "a deleted name can be created again")
        #expect(try request(port, "PUT", "/?short=mine&long=http://fourth.example/").status == 200, "the original PUT upserts")
        #expect(try request(port, "GET", "/mine").headers["location"] == "http://fourth.example/")
        // A link only one replica holds (the other was down when it was written) is still taken.
        let holders = try cluster.replicas(of: "half")
        cluster.kill9(holders[0])
        #expect(try cluster.waitFor { try cluster.proxyState(of: holders[0]) == "down" })
        #expect(try request(port, "PUT", "/?short=half&long=http://half.example/").status == 200)
        try cluster.startNode(holders[0])
        #expect(try cluster.waitFor(timeoutMs: 10_000) { try cluster.proxyState(of: holders[0]) == "up" })
        let raced = try createOnly(port, "half", "http://other.example/")
        #expect(raced.status == 412, "taken on one replica is taken: \(raced.status)")
        #expect(try cluster.waitFor { try request(port, "GET", "/half").headers["location"] == "http://half.example/" })
    }

    @Test("a create stored by the first replica and refused by the second puts the link it met back on the first, then answers 412")
    func restoreOnLaterRefusal() throws {
        // Repair once a minute, so the link written to one replica below stays there alone.
        let cluster = try TestCluster(nodeArguments: ["--sync-interval-ms", "60000"])
        let port = cluster.proxy.port
        try waitHealthy(port)
        let holders = try cluster.replicas(of: "lopsided")  // primary first: the order a create asks in
        let nowMs = UInt64(Date().timeIntervalSince1970 * 1000) - 1_577_836_800_000
        let direct = try put(cluster.ports[holders[1]], "/_/kv?v=\(nowMs << 22)&short=lopsided", body: "http://held.example/")
        #expect(direct.status == 200, "the link only the second replica holds")
        let refused = try createOnly(port, "lopsided", "http://mine.example/")
        #expect(refused.status == 412)
        let first = try request(cluster.ports[holders[0]], "GET", "/_/kv?short=lopsided")
        #expect(first.status == 200 && first.body == "http://held.example/", "the first replica holds the link met, not the create")
        #expect(try request(port, "GET", "/lopsided").headers["location"] == "http://held.example/")
    }

    @Test("a create a replica already holds (its version and link, copied there by repair before the proxy asked) is acknowledged; another link or version is refused")
    func createAlreadyCopied() throws {
        // CI once saw both racers told 412: the winner's create reached its second replica after
        // repair had copied it there from the first, and was refused by its own link.
        let (node, _) = try startNode()
        defer { node.stop() }
        let version = (UInt64(Date().timeIntervalSince1970 * 1000) - 1_577_836_800_000) << 22
        #expect(try put(node.port, "/_/kv?v=\(version)&short=copied", body: "http://mine.example/").status == 200)
        let same = try put(node.port, "/_/kv?v=\(version)&if=absent&short=copied", body: "http://mine.example/")
        #expect(same.status == 200 && same.body == "absent\n", "the create is stored here already: \(same.status) \(same.body)")
        let otherLink = try put(node.port, "/_/kv?v=\(version)&if=absent&short=copied", body: "http://other.example/")
        #expect(otherLink.status == 412 && otherLink.body == "http://mine.example/")
        let otherVersion = try put(node.port, "/_/kv?v=\(version + 1)&if=absent&short=copied", body: "http://mine.example/")
        #expect(otherVersion.status == 412, "another create of the same link is another writer's")
        #expect(try request(node.port, "GET", "/_/kv?short=copied").body == "http://mine.example/")
    }

    @Test("generated names: PUT /?long=L and POST / without a name make 7-character names; JSON on request")
    func generatedNames() throws {
        let cluster = try TestCluster()
        let port = cluster.proxy.port
        try waitHealthy(port)
        var names = Set<String>()
        for index in 0..<20 {
            let made = try request(port, "PUT", "/?long=http://gen.example/\(index)?a=1&b=2", headers: ["Accept: application/json"])
            #expect(made.status == 201 && made.headers["content-type"] == "application/json")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(made.body.utf8)) as? [String: String])
            let short = try #require(json["short"])
            #expect(short.count == 7 && short.allSatisfy { $0.isLetter || $0.isNumber })
            #expect(json["url"] == "http://test/\(short)" && made.headers["location"] == "http://test/\(short)")
            #expect(json["long"] == "http://gen.example/\(index)?a=1&b=2")
            #expect(try request(port, "GET", "/\(short)").headers["location"] == "http://gen.example/\(index)?a=1&b=2")
            names.insert(short)
        }
        #expect(names.count == 20)
        let form = try postForm(port, "long=https%3A%2F%2Fform.example%2Fx&short=")
        #expect(form.status == 201 && form.body.contains("Your short link is ready") && form.body.contains("https://form.example/x"))
        let location = try #require(form.headers["location"])
        #expect(try request(port, "GET", String(location.dropFirst("http://test".count))).headers["location"] == "https://form.example/x")
        let taken = try postForm(port, "long=https%3A%2F%2Fform.example%2Fy&short=\(location.split(separator: "/").last!)")
        #expect(taken.status == 412 && taken.body.contains("value=\"https://form.example/y\""), "the form comes back refilled")
        let bad = try postForm(port, "long=javascript%3Aalert(1)&short=")
        #expect(bad.status == 400 && bad.body.contains("javascript:alert(1)") && bad.body.contains("<form"))
    }

    @Test("--write-token: writes need Bearer or the form's token field (401 + WWW-Authenticate otherwise); reads stay open")
    func writeToken() throws {
        let cluster = try TestCluster(proxyArguments: ["--write-token", "t0ken", "--public-url", "https://go.example/"])
        let port = cluster.proxy.port
        try waitHealthy(port)
        let refused = try request(port, "PUT", "/?short=a&long=http://a.example/")
        #expect(refused.status == 401 && refused.headers["www-authenticate"] == "Bearer realm=\"linkring\"")
        #expect(try request(port, "PUT", "/?short=a&long=http://a.example/", headers: ["Authorization: Bearer wrong"]).status == 401)
        #expect(try request(port, "PUT", "/?short=a&long=http://a.example/", headers: ["Authorization: Bearer t0ken"]).status == 200)
        #expect(try request(port, "GET", "/a").status == 307, "redirects need no token")
        #expect(try request(port, "DELETE", "/a").status == 401)
        #expect(try createOnly(port, "b", "http://b.example/").status == 401)
        #expect(try postForm(port, "long=http%3A%2F%2Fb.example%2F&short=b&token=nope").status == 401)
        let made = try postForm(port, "long=http%3A%2F%2Fb.example%2F&short=b&token=t0ken")
        #expect(made.status == 201 && made.headers["location"] == "https://go.example/b", "--public-url spells the short URL")
        let home = try request(port, "GET", "/")
        #expect(home.status == 200 && home.body.contains("id=\"token\"") && home.body.contains("localStorage"))
        #expect(try request(port, "DELETE", "/a", headers: ["Authorization: Bearer t0ken"]).status == 200)
    }

    @Test("pages: home, favicon 204, robots.txt, stylesheet, dashboard (operator route) on the proxy and a lone node")
    func pages() throws {
        let cluster = try TestCluster(nodeCount: 2)
        let port = cluster.proxy.port
        try waitHealthy(port)
        let home = try request(port, "GET", "/")
        #expect(home.status == 200 && home.body.contains("<form method=\"post\" action=\"/\">") && !home.body.contains("id=\"token\""))
        let favicon = try request(port, "GET", "/favicon.ico")
        #expect(favicon.status == 204 && favicon.headers["content-length"] == nil)
        #expect(try request(port, "GET", "/robots.txt").body.hasPrefix("User-agent: *"))
        #expect(try request(port, "GET", "/_/style.css").headers["content-type"] == "text/css; charset=utf-8")
        let dashboard = try request(port, "GET", "/_/")
        #expect(dashboard.status == 200 && dashboard.body.contains("/_/status") && dashboard.body.contains("LinkRing cluster"))
        let forwarded = try request(port, "GET", "/_/", headers: ["X-Forwarded-For: 10.0.0.9"])
        #expect(forwarded.status == 403, "the dashboard is an operator route")
        #expect(try request(port, "PUT", "/?short=robots.txt&long=http://x/").status == 400, "reserved name")
        let bad = try request(port, "GET", "/a%3Cb%3E")
        #expect(bad.status == 400 && bad.body.contains("You sent: <code>a%3Cb%3E</code>"))

        let (node, _) = try startNode()
        defer { node.stop() }
        #expect(try request(node.port, "GET", "/").body.contains("<form"))
        let made = try request(node.port, "PUT", "/?long=http://lone.example/", headers: ["Accept: application/json"])
        #expect(made.status == 201 && made.body.contains("\"long\":\"http://lone.example/\""))
        #expect(try createOnly(node.port, "n", "http://n.example/").status == 201)
        #expect(try createOnly(node.port, "n", "http://m.example/").status == 412)
        #expect(try request(node.port, "GET", "/n").headers["location"] == "http://n.example/")
        // The API's answers link the stylesheet: each server that answers them serves it.
        for server in [port, node.port] {
            let recorded = try request(server, "PUT", "/?short=s\(server)&long=http://s.example/")
            #expect(recorded.status == 200 && recorded.body.contains("href=\"/_/style.css\"") && !recorded.body.contains("<style>"))
            let sheet = try request(server, "GET", "/_/style.css")
            #expect(sheet.status == 200 && sheet.body.hasPrefix(":root{") && sheet.headers["cache-control"] == "public, max-age=86400")
        }
    }
}
