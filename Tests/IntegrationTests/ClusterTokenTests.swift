// The cluster token against the real binaries: a node with a token answers nothing but its
// health check without it. Every route, public and internal, is tried without the token and
// with a wrong one (401, and the data is provably unchanged, read back with the token), then
// with the right one (each works). In a cluster, a DELETE sent straight to a node without the
// token does not reach its replica, while the same DELETE with the token does (so the wait is
// long enough to have seen it spread).

import Foundation
import LinkRingCore
import Testing

@Suite("Cluster token (real binaries)")
struct ClusterTokenIntegrationTests {
    static let token = "s3cret-7f0e"

    /// One route of the node: how to send it, and the status it answers with the token.
    struct Route: CustomStringConvertible {
        var method: String
        var target: String
        var body: [UInt8] = []
        var statusWithToken: Int
        var description: String { "\(method) \(target)" }
    }

    /// Every route a node serves (plus an unknown one under /_/), in an order where each one
    /// with the token finds what it needs: `keep` exists, `gone` exists until it is deleted,
    /// and `deleteVersion` is above the version `keep2` holds (and within the clock-skew bound).
    static func routes(deleteVersion: UInt64) -> [Route] { [
        Route(method: "GET", target: "/keep", statusWithToken: 307),
        Route(method: "HEAD", target: "/keep", statusWithToken: 307),
        Route(method: "PUT", target: "/?short=new&long=http://planted", statusWithToken: 200),
        Route(method: "DELETE", target: "/gone", statusWithToken: 200),
        Route(method: "GET", target: "/_/kv?short=keep", statusWithToken: 200),
        Route(method: "PUT", target: "/_/kv?v=5&short=kv", body: Array("http://planted".utf8), statusWithToken: 200),
        Route(method: "DELETE", target: "/_/kv?v=\(deleteVersion)&short=keep2", statusWithToken: 200),
        Route(method: "GET", target: "/_/digests", statusWithToken: 200),
        Route(method: "GET", target: "/_/keys?r=0&from=0", statusWithToken: 200),
        Route(method: "POST", target: "/_/records", body: SyncCodec.encodeKeys([Array("keep".utf8)]), statusWithToken: 200),
        Route(method: "GET", target: "/_/nothing", statusWithToken: 404),
        Route(method: "POST", target: "/_/health", statusWithToken: 405),
    ] }

    func send(_ port: Int, _ route: Route, headers: [String]) throws -> TestResponse {
        if route.method == "HEAD" || route.method == "GET" && route.body.isEmpty {
            return try request(port, route.method, route.target, headers: headers)
        }
        return try request(port, route.method, route.target, body: route.body, headers: headers)
    }

    /// A node with a ring of its own (so the repair routes answer) and the token from a file.
    func startTokenNode() throws -> ServerProcess {
        let directory = makeTemporaryDirectory()
        let port = try freePort()
        try "127.0.0.1:\(port)\n".write(toFile: directory + "/hosts.txt", atomically: true, encoding: .utf8)
        let tokenFile = try writeTokenFile(Self.token, in: directory)
        return try ServerProcess.start(Binaries.node, [
            "--listen", "127.0.0.1:\(port)", "--data", directory + "/data", "--hosts", directory + "/hosts.txt",
            "--replicas", "1", "--cluster-token-file", tokenFile,
        ])
    }

    @Test("with a token, every route but the health check answers 401 without it or with a wrong one, and changes nothing")
    func everyRouteNeedsTheToken() throws {
        let node = try startTokenNode()
        defer { node.stop() }
        let withToken = ["X-Cluster-Token: \(Self.token)"]
        for key in ["keep", "keep2", "gone"] {
            #expect(try request(node.port, "PUT", "/?short=\(key)&long=http://\(key)", headers: withToken).status == 200)
        }
        let versionBefore = try request(node.port, "GET", "/_/kv?short=keep", headers: withToken).headers["x-version"]
        let keep2Version = try #require(UInt64(request(node.port, "GET", "/_/kv?short=keep2", headers: withToken).headers["x-version"] ?? ""))
        let routes = Self.routes(deleteVersion: keep2Version + 1)
        for refused in [[], ["X-Cluster-Token: wrong"], ["X-Cluster-Token: \(Self.token)x"], ["X-Cluster-Token: s3cret"]] {
            for route in routes {
                let answer = try send(node.port, route, headers: refused)
                #expect(answer.status == 401, "\(route) with \(refused) answered \(answer.status)")
                if route.method != "HEAD" {
                    #expect(answer.body.contains("needs it in X-Cluster-Token"), "\(route): \(answer.body)")
                    #expect(!answer.body.contains("http://keep"), "\(route) revealed a value")
                }
            }
        }
        #expect(try request(node.port, "GET", "/new", headers: withToken).status == 404, "a refused public PUT planted nothing")
        #expect(try request(node.port, "GET", "/_/kv?short=kv", headers: withToken).status == 404, "a refused internal PUT planted nothing")
        let kept = try request(node.port, "GET", "/_/kv?short=keep", headers: withToken)
        #expect(kept.status == 200 && kept.body == "http://keep" && kept.headers["x-version"] == versionBefore,
                "refused DELETEs left the key and its version")
        #expect(try request(node.port, "GET", "/gone", headers: withToken).status == 307)
        #expect(try request(node.port, "GET", "/keep2", headers: withToken).status == 307)

        for route in routes {
            let answer = try send(node.port, route, headers: withToken)
            #expect(answer.status == route.statusWithToken, "\(route) with the token answered \(answer.status): \(answer.body)")
        }
        #expect(try request(node.port, "GET", "/new", headers: withToken).headers["location"] == "http://planted")
        #expect(try request(node.port, "GET", "/gone", headers: withToken).status == 404)
        #expect(try request(node.port, "GET", "/keep2", headers: withToken).status == 404)

        for method in ["GET", "HEAD"] {
            #expect(try request(node.port, method, "/_/health").status == 200, "\(method) /_/health needs no token")
        }
        #expect(try request(node.port, "GET", "/_/health").body.contains("\"state\":\"ready\""))
    }

    @Test("a DELETE sent straight to a node without the token does not spread to its replica; with the token it does")
    func directDeleteDoesNotSpread() throws {
        let cluster = try TestCluster(nodeArguments: ["--sync-interval-ms", "100"], clusterToken: Self.token)
        #expect(try request(cluster.proxy.port, "PUT", "/?short=victim&long=http://victim").status == 200)
        let replicas = try cluster.replicas(of: "victim")
        try #require(replicas.count == 2)
        for headers in [[], ["X-Cluster-Token: wrong"]] {
            #expect(try request(cluster.ports[replicas[0]], "DELETE", "/victim", headers: headers).status == 401)
            #expect(try request(cluster.ports[replicas[0]], "DELETE", "/_/kv?v=9000000000000000000&short=victim", headers: headers).status == 401)
        }
        usleep(600_000)  // six anti-entropy rounds: a tombstone on the first replica would have reached the second
        for replica in replicas {
            let held = try cluster.nodeRequest(replica, "GET", "/_/kv?short=victim")
            #expect(held.status == 200 && held.body == "http://victim", "replica \(replica) still holds the key")
        }
        #expect(try request(cluster.proxy.port, "GET", "/victim").status == 307)

        #expect(try cluster.nodeRequest(replicas[0], "DELETE", "/victim").status == 200)
        #expect(try cluster.waitFor(timeoutMs: 5_000) { try cluster.nodeRequest(replicas[1], "GET", "/_/kv?short=victim").status == 404 },
                "with the token, the tombstone reaches the other replica")
    }
}
