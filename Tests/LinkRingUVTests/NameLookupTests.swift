// Name lookups off the loop (uv_getaddrinfo): an answer from /etc/hosts, a name refused at once,
// each completion run exactly once on the loop, the loop closed clean after; and a connection
// to a name is refused by the TCP layer instead of being resolved there (it would block).

import Glibc
import Testing
@testable import LinkRingUV

@Suite("Name lookups (libuv thread pool)")
struct NameLookupTests {
    @Test("localhost answers 127.0.0.1 (from /etc/hosts), a numeric host answers itself, each completion runs once")
    func answers() throws {
        let loop = try EventLoop()
        var results: [String: [Result<String, UVError>]] = [:]
        for host in ["localhost", "127.0.0.1"] {
            _ = try NameLookup.start(loop: loop, host: host) { results[host, default: []].append($0) }
        }
        loop.run()
        #expect(try results["localhost"]?.map { try $0.get() } == ["127.0.0.1"])
        #expect(try results["127.0.0.1"]?.map { try $0.get() } == ["127.0.0.1"])
        #expect(loop.close())
    }

    @Test("a name that cannot exist (.invalid, RFC 6761) fails with the resolver's error, on the loop; one libuv refuses (the empty name) throws at once")
    func failure() throws {
        let loop = try EventLoop()
        var outcome: Result<String, UVError>?
        var refusedCalls = 0
        #expect(throws: UVError.self) {
            _ = try NameLookup.start(loop: loop, host: "") { _ in refusedCalls += 1 }
        }
        _ = try NameLookup.start(loop: loop, host: "nonexistent.invalid") { outcome = $0 }
        loop.run()
        guard case .failure(let error)? = outcome else {
            Issue.record("the empty name must not resolve: \(String(describing: outcome))")
            return
        }
        #expect(error.name.hasPrefix("EAI_"), "\(error)")
        #expect(refusedCalls == 0, "a lookup that did not start never calls back")
        #expect(loop.close())
    }

    @Test("TCPStream.connect takes numeric addresses only: a name is refused at once, never looked up on the loop")
    func connectRefusesNames() throws {
        let loop = try EventLoop()
        #expect(throws: UVError.self) {
            _ = try TCPStream.connect(loop: loop, host: "localhost", port: 9) { _ in }
        }
        #expect(loop.close())
    }
}
