// The host names of the hosts file, resolved off the loop and kept fresh: one NameRecord (the
// rules, pure, in Core) per name, one NameLookup (uv_getaddrinfo on the thread pool) per lookup.
// A connection to a node asks `connectAddress(for:)`:
//
//   numeric host                          ─▶ itself, at once (no record, no lookup: free)
//   a name with an address in its lifetime ─▶ that address, at once
//   a name that fails (its lookup failed, or is silent past Limits.nameLookupSlowMs)
//                                          ─▶ the failure, at once: the node's connections fail
//                                             and the proxy takes that node, and only it, down
//   a name whose first lookup is in flight ─▶ the caller waits for its answer (a waiter)
//
// One duty on the process's cron (every Limits.nameCheckIntervalMs) starts the lookups that are
// due (first, refresh before the lifetime ends, retry after a failure) and counts silent ones
// as failures, failing their waiters. Log lines per name, rate-limited (RepeatedFailureReport):
// one ERROR when a name stops resolving, a counted summary at most every 10 s while it fails,
// one INFO when it resolves again; INFO on its first answer and when its address changes.
//
// At shutdown, `close` cancels the lookups still queued; one already running in a resolver
// thread cannot be cancelled, and the process does not wait for it (it stops the loop).

import LinkRingCore
import LinkRingUV

/// What one lookup ended with.
package enum LookupOutcome: Sendable, Equatable {
    case address(String)
    case failed(String)
}

/// Where a connection to a node goes: a numeric address, or why there is none.
package enum ConnectTarget: Sendable, Equatable {
    case address(HostPort)
    case unreachable(String)
}

package final class NameResolver {
    /// Starts one lookup; `done` runs once on the loop with the numeric address or why the
    /// lookup failed. Returns a cancel function (true when the lookup was cancelled before it
    /// ran). Injected so tests control the answers.
    package typealias LookupStarter = (_ name: String, _ done: @escaping (LookupOutcome) -> Void) throws -> () -> Bool

    private let loop: EventLoop
    private let startLookup: LookupStarter
    private var records: [String: NameRecord] = [:]
    /// Names of the current hosts file: only these are refreshed.
    private var watched: Set<String> = []
    private var cancels: [String: () -> Bool] = [:]
    private var waiters: [String: [Int: Waiter]] = [:]
    private var lastWaiterID = 0
    private var settlings: [Settling] = []
    private var cron: Cron?
    private var duty: CronDuty?
    private var isClosed = false
    /// Called after every lookup's answer or failure (the proxy checks aliases again).
    package var onAnswer: (() -> Void)?
    /// Lookups started so far (tests: numeric entries start none).
    package private(set) var lookupsStarted = 0

    package init(loop: EventLoop, startLookup: LookupStarter? = nil) {
        self.loop = loop
        self.startLookup = startLookup ?? { name, done in
            let lookup = try NameLookup.start(loop: loop, host: name) { result in
                switch result {
                case .success(let host): done(.address(host))
                case .failure(let error): done(.failed("\(error.message) (\(error.name))"))
                }
            }
            return { lookup.cancel() }
        }
    }

    /// Registers the periodic duty: refreshes, retries, slow lookups.
    package func start(cron: Cron) {
        self.cron = cron
        duty = cron.every(Limits.nameCheckIntervalMs, "name lookups") { [unowned self] in self.tick() }
    }

    /// The names among `addresses` are the ones to keep resolved from now on; a new one is
    /// looked up at once.
    package func watch(_ addresses: [HostPort]) {
        watched = Set(addresses.filter { !$0.isNumericAddress }.map(\.host))
        for name in watched.sorted() { startLookupIfDue(name) }
    }

    /// The numeric host to connect to for `address` now, if it is known: a numeric host as it
    /// is, a name while its address lasts.
    package func knownAddress(of address: HostPort) -> HostPort? {
        if address.isNumericAddress { return address }
        return records[address.host]?.usableAddress(nowMs: loop.nowMs).map { HostPort(host: $0, port: address.port) }
    }

    /// Where to connect for `address`. When that is known (or known to fail), `then` runs before
    /// this returns, and nil is returned; else `then` runs once the name's first lookup answers
    /// or turns slow, and the waiter's id is returned (for `cancelWait`).
    package func connectAddress(for address: HostPort, then: @escaping (ConnectTarget) -> Void) -> Int? {
        guard !address.isNumericAddress else {
            then(.address(address))
            return nil
        }
        let name = address.host
        if records[name] == nil { startLookupIfDue(name) }
        guard let target = target(of: name, port: address.port) else {
            lastWaiterID += 1
            waiters[name, default: [:]][lastWaiterID] = Waiter(port: address.port, then: then)
            return lastWaiterID
        }
        then(target)
        return nil
    }

    /// Where a connection to `name`:`port` goes now; nil while the first lookup is waited for.
    private func target(of name: String, port: Int) -> ConnectTarget? {
        switch records[name]?.answer(nowMs: loop.nowMs) {
        case .address(let host)?: return .address(HostPort(host: host, port: port))
        case .failed(let reason)?: return .unreachable(Self.failure(name, reason))
        case .waiting?, nil: return nil
        }
    }

    /// Forgets a waiter whose connection was closed before the answer.
    package func cancelWait(_ id: Int, name: String) {
        waiters[name]?[id] = nil
    }

    /// Runs `then` once every name among `addresses` has answered or failed, or after
    /// `withinMs`, whichever comes first; at once when no name is waiting.
    package func whenAnswered(_ addresses: [HostPort], withinMs: UInt64, then: @escaping () -> Void) {
        let settling = Settling(then: then)
        for address in addresses where !address.isNumericAddress && settling.waiterIDs[address.host] == nil {
            let name = address.host
            let id = connectAddress(for: address) { [unowned self, unowned settling] _ in
                settling.waiterIDs[name] = nil
                if settling.waiterIDs.isEmpty { self.settle(settling) }
            }
            if let id { settling.waiterIDs[name] = id }
        }
        guard !settling.waiterIDs.isEmpty else { return then() }
        settlings.append(settling)
        let timer = Timer(loop: loop)
        settling.timer = timer
        timer.start(afterMs: withinMs) { [unowned self, unowned settling] in self.settle(settling) }
    }

    /// Stops: queued lookups are cancelled, waiters dropped. Returns how many lookups are
    /// running in a resolver thread, which cannot be cancelled (the loop would wait for them).
    package func close() -> Int {
        isClosed = true
        onAnswer = nil
        if let duty { cron?.cancel(duty) }
        duty = nil
        for settling in settlings { settling.timer?.close() }
        settlings.removeAll()
        waiters.removeAll()
        return cancels.values.filter { !$0() }.count
    }

    // MARK: lookups

    private func tick() {
        let now = loop.nowMs
        for name in watched.sorted() {
            if let line = records[name]?.noteSlowLookup(nowMs: now) { logFailure(name, line, reason: NameRecord.slowReason) }
            wakeWaitersIfAnswered(name)
            startLookupIfDue(name)
        }
    }

    private func startLookupIfDue(_ name: String) {
        guard !isClosed else { return }
        if records[name] == nil { records[name] = NameRecord(name: name) }
        guard records[name]!.isLookupDue(nowMs: loop.nowMs) else { return }
        records[name]!.lookupStarted(nowMs: loop.nowMs)
        lookupsStarted += 1
        do {
            let cancel = try startLookup(name) { [weak self] result in self?.finished(name, result) }
            if records[name]!.isLookingUp { cancels[name] = cancel }
        } catch {
            finished(name, .failed("\(error)"))
        }
    }

    private func finished(_ name: String, _ result: LookupOutcome) {
        cancels[name] = nil
        guard !isClosed, var record = records[name] else { return }
        let now = loop.nowMs
        switch result {
        case .address(let host):
            let isFirst = record.address == nil
            let (replaced, ended) = record.lookupSucceeded(address: host, nowMs: now)
            records[name] = record
            logAnswer(name, host, isFirst: isFirst, replaced: replaced, ended: ended)
        case .failed(let reason):
            let line = record.lookupFailed(reason, nowMs: now)
            records[name] = record
            if let line { logFailure(name, line, reason: reason) }
        }
        wakeWaitersIfAnswered(name)
        onAnswer?()
    }

    /// Hands the name's waiters its answer (per waiter: its own port), once there is one.
    private func wakeWaitersIfAnswered(_ name: String) {
        guard let waiting = waiters[name], !waiting.isEmpty, target(of: name, port: 0) != nil else { return }
        waiters[name] = nil
        for (_, waiter) in waiting.sorted(by: { $0.key < $1.key }) {
            if let target = target(of: name, port: waiter.port) { waiter.then(target) }
        }
    }

    private func settle(_ settling: Settling) {
        guard let position = settlings.firstIndex(where: { $0 === settling }) else { return }
        settlings.remove(at: position)
        settling.timer?.close()
        for (name, id) in settling.waiterIDs { cancelWait(id, name: name) }
        settling.then()
    }

    // MARK: log lines

    private static func failure(_ name: String, _ reason: String) -> String {
        "name \(name) does not resolve: \(reason)"
    }

    private func logAnswer(_ name: String, _ host: String, isFirst: Bool, replaced: String?, ended: RepeatedFailureReport.Line?) {
        if case .ended(let failures, let durationMs)? = ended {
            Log.info("name \(name) resolves again, to \(host), after \(failures) failed lookup(s) over \(durationMs) ms")
        } else if let replaced {
            Log.info("name \(name) now resolves to \(host) (was \(replaced))")
        } else if isFirst {
            Log.info("name \(name) resolves to \(host)")
        }
    }

    private func logFailure(_ name: String, _ line: RepeatedFailureReport.Line, reason: String) {
        let held = records[name]?.usableAddress(nowMs: loop.nowMs)
        switch line {
        case .started:
            let consequence = held.map { "; still connecting to \($0) until that answer is \(Limits.resolvedAddressLifetimeMs / 1000) s old" }
                ?? "; connections to its node fail until it resolves"
            Log.error(Self.failure(name, reason) + consequence + " (looked up again every \(Limits.nameRetryDelayMs) ms)")
        case .continuing(let failures, let periodMs):
            Log.error("name \(name) still does not resolve: \(failures) more failed lookup(s) in \(periodMs / 1000) s (last: \(reason))")
        case .ended:
            break
        }
    }

    /// A connection waiting for its name's first answer.
    private struct Waiter {
        let port: Int
        let then: (ConnectTarget) -> Void
    }

    /// `whenAnswered`'s state: the names still waited for, the deadline, what runs after.
    private final class Settling {
        var waiterIDs: [String: Int] = [:]
        var timer: Timer?
        let then: () -> Void

        init(then: @escaping () -> Void) {
            self.then = then
        }
    }
}
