// The name resolver on a real loop and cron, with the lookups injected (the test answers them,
// or never does), so what it proves does not depend on this machine's DNS:
//
//   - numeric hosts are connected to as written: no record, no lookup, at once;
//   - connections to a name wait for its one lookup, however many there are, each getting
//     its own port;
//   - a lookup that never answers fails its waiters once it is silent nameLookupSlowMs, and
//     later connections fail at once; still only one lookup is in flight for the name;
//   - `whenAnswered` returns at once for numeric entries and after its bound for silent names;
//   - `close` reports the lookups it could not cancel.

import LinkRingCore
import LinkRingServer
import LinkRingUV
import Testing

/// Lookups the test answers by hand: `pending[name]` holds each one's completion.
final class ScriptedLookups {
    var started: [String] = []
    var pending: [String: (LookupOutcome) -> Void] = [:]
    var cancellable = false

    var starter: NameResolver.LookupStarter {
        { [unowned self] name, done in
            self.started.append(name)
            self.pending[name] = done
            return { [unowned self] in self.cancellable }
        }
    }

    func answer(_ name: String, _ outcome: LookupOutcome) {
        pending.removeValue(forKey: name)?(outcome)
    }
}

@Suite("Name resolver (one loop, injected lookups)")
struct NameResolverTests {
    @Test("numeric hosts cost nothing: the address comes back before the call returns, and no lookup starts")
    func numericHosts() throws {
        let loop = try EventLoop()
        let lookups = ScriptedLookups()
        let resolver = NameResolver(loop: loop, startLookup: lookups.starter)
        let hosts = [HostPort(host: "127.0.0.1", port: 25001), HostPort(host: "::1", port: 25002)]
        resolver.watch(hosts)
        for host in hosts {
            var target: ConnectTarget?
            let waiter = resolver.connectAddress(for: host) { target = $0 }
            #expect(waiter == nil && target == .address(host))
            #expect(resolver.knownAddress(of: host) == host)
        }
        var answered = false
        resolver.whenAnswered(hosts, withinMs: 10_000) { answered = true }
        #expect(answered, "nothing to wait for")
        #expect(lookups.started.isEmpty && resolver.lookupsStarted == 0)
        #expect(resolver.close() == 0)
        #expect(loop.close())
    }

    @Test("connections to a name share its one lookup and each gets its own port once it answers")
    func waitersShareOneLookup() throws {
        let loop = try EventLoop()
        let lookups = ScriptedLookups()
        let resolver = NameResolver(loop: loop, startLookup: lookups.starter)
        resolver.watch([HostPort(host: "node1.example", port: 7000)])
        var targets: [ConnectTarget] = []
        for port in [7000, 7001, 7002] {
            let waiter = resolver.connectAddress(for: HostPort(host: "node1.example", port: port)) { targets.append($0) }
            #expect(waiter != nil)
        }
        let cancelled = resolver.connectAddress(for: HostPort(host: "node1.example", port: 7003)) { targets.append($0) }
        resolver.cancelWait(cancelled!, name: "node1.example")
        #expect(lookups.started == ["node1.example"] && targets.isEmpty)
        lookups.answer("node1.example", .address("10.0.0.5"))
        #expect(targets == [7000, 7001, 7002].map { .address(HostPort(host: "10.0.0.5", port: $0)) })
        #expect(resolver.knownAddress(of: HostPort(host: "node1.example", port: 9)) == HostPort(host: "10.0.0.5", port: 9))
        #expect(resolver.close() == 0)
        #expect(loop.close())
    }

    @Test("a lookup that never answers fails its waiters after nameLookupSlowMs; later connections fail at once; one lookup only")
    func silentResolver() throws {
        let loop = try EventLoop()
        let cron = Cron(loop: loop)
        let lookups = ScriptedLookups()
        let resolver = NameResolver(loop: loop, startLookup: lookups.starter)
        let name = HostPort(host: "dns-down.example", port: 25063)
        resolver.watch([name, HostPort(host: "127.0.0.1", port: 25001)])
        resolver.start(cron: cron)
        let startedMs = loop.nowMs
        var waited: ConnectTarget?
        var waitedMs: UInt64 = 0
        _ = resolver.connectAddress(for: name) { target in
            waited = target
            waitedMs = loop.nowMs - startedMs
        }
        var settledMs: UInt64?
        resolver.whenAnswered([name], withinMs: Limits.hostsNamesWaitMs) { settledMs = loop.nowMs - startedMs }
        var later: ConnectTarget?
        let check = Timer(loop: loop)
        check.start(afterMs: Limits.nameLookupSlowMs + 2 * Limits.nameCheckIntervalMs) {
            let waiter = resolver.connectAddress(for: name) { later = $0 }
            #expect(waiter == nil, "a failing name does not make connections wait")
            check.close()
            #expect(resolver.close() == 1, "the silent lookup cannot be cancelled")
            cron.close()
        }
        loop.run()
        guard case .unreachable(let reason)? = waited, case .unreachable? = later else {
            Issue.record("waiters must fail: \(String(describing: waited)), \(String(describing: later))")
            return
        }
        #expect(reason == "name dns-down.example does not resolve: \(NameRecord.slowReason)")
        #expect(waitedMs >= Limits.nameLookupSlowMs && waitedMs <= Limits.nameLookupSlowMs + 2 * Limits.nameCheckIntervalMs)
        #expect(settledMs != nil && settledMs! < Limits.hostsNamesWaitMs, "a failed name counts as answered")
        #expect(lookups.started == ["dns-down.example"], "no second lookup while the first is in flight")
        lookups.answer("dns-down.example", .address("10.0.0.7"))  // after close: ignored
        #expect(loop.close())
    }

    @Test("whenAnswered gives up on a silent name after its bound")
    func boundedWait() throws {
        let loop = try EventLoop()
        let lookups = ScriptedLookups()
        let resolver = NameResolver(loop: loop, startLookup: lookups.starter)
        let name = HostPort(host: "dns-down.example", port: 25063)
        resolver.watch([name])
        let startedMs = loop.nowMs
        var settledMs: UInt64?
        resolver.whenAnswered([name], withinMs: 50) { settledMs = loop.nowMs - startedMs }
        loop.run()
        #expect(settledMs != nil && settledMs! >= 50 && settledMs! < 1_000)
        lookups.cancellable = true
        #expect(resolver.close() == 0, "a queued lookup is cancelled")
        #expect(loop.close())
    }
}
