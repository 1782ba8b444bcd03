// One peer's turn of anti-entropy (see AntiEntropy.swift): digests, and again
// Limits.repairConfirmDelayMs later (a range pages only if it differed both times:
// DifferingRanges), then the differing ranges page by page, fetching and storing only the
// records this node lacks. A version more
// than --clock-skew-ms ahead of this node's clock is neither fetched nor stored (counted in the
// node's `versionsRefused`): repair must not spread what a write would be refused for.
//
// While handoff batches arrive (a membership move streams this node's new ranges to it), a
// start-up recovery turn (`pausesForHandoff`) waits before each page, Limits.repairPauseWhileHandoffMs
// at a time: the handoff brings what the pull would fetch, twice over the same disk and loop.
// It goes on once the batches have stopped for that long, comparing digests again first (a
// joining node found every range differing before the handoff filled them: paging them all
// afterwards made the peers list every key once more just as the move ended), so it finds
// little left to fetch;
// the node stays `recovering` meanwhile, and proxies end the move only once it is ready.
// Periodic turns never wait: they repair the writes a replica missed during the move. A peer
// that is itself receiving handoff batches answers its digests 503 "busy" (every one of its
// ranges would differ and be paged in full, each round): the turn ends as `busy`.
//
// Each new connection to the peer first asks its /_/health: a peer that answers with this
// node's own id is this node under another name or address (two lines of the hosts file for
// one node). It is logged once as an ERROR naming both lines, and every later turn ends at once:
// a node never pulls from itself or counts itself as its own peer.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class PeerSync {
    /// Where the peer is listed: its line, this node's own line, the file.
    struct Place {
        let entry: HostsEntry
        let selfEntry: HostsEntry
        let source: String
    }

    let address: HostPort
    private let place: Place
    private let identity: NodeServer.Identity
    /// True once the peer answered with this node's own id.
    private(set) var isSelf = false
    /// The connection whose peer answered with another node's id.
    private weak var verifiedConnection: NodeConnection?
    let sharedRanges: [Int]
    private let ringID: UInt64
    private let requests: InternalRequestEncoder
    private let loop: EventLoop
    private let flusher: OutputFlusher
    private let store: Store
    private let timeoutMs: UInt64
    private let tombstones: TombstoneRules
    private var connection: NodeConnection?
    private var done: ((Int, String?) -> Void)?
    /// The pause while handoff batches arrive, or before a second compare (closed by `close`
    /// if the node stops first).
    private var pause: Timer?
    private var comparisons = DifferingRanges()
    private var differing: [Int] = []
    private var repaired = 0
    /// This turn's key pages asked for, and differing ranges found (summed over its digest
    /// compares: a recovery turn compares again after a handoff).
    private(set) var turnPages = 0
    private(set) var turnDifferingRanges = 0
    private(set) var lastCompareMicroseconds: UInt64 = 0
    /// Per shared range, when the peer's digest last equalled this node's (tombstone collection).
    private(set) var matchedUnixMs: [Int: Int64] = [:]
    /// The failure of a turn whose peer said it is busy receiving a handoff: not a fault (no
    /// warning); a recovery turn tries again later without counting an attempt.
    static let busy = "the peer is receiving a handoff"
    /// A start-up recovery turn: it waits while handoff batches arrive.
    var pausesForHandoff = false
    /// Failed periodic turns, logged rate-limited (a peer down, or its name not resolving).
    var failures = RepeatedFailureReport()

    init(address: HostPort, place: Place, sharedRanges: [Int], ringID: UInt64, requests: InternalRequestEncoder, loop: EventLoop,
         flusher: OutputFlusher, store: Store, identity: NodeServer.Identity, timeoutMs: UInt64, tombstones: TombstoneRules) {
        self.address = address
        self.place = place
        self.identity = identity
        self.sharedRanges = sharedRanges
        self.ringID = ringID
        self.requests = requests
        self.loop = loop
        self.flusher = flusher
        self.store = store
        self.timeoutMs = timeoutMs
        self.tombstones = tombstones
    }

    /// Pulls what differs; `done(records stored, failure or nil)` runs once.
    func run(done: @escaping (Int, String?) -> Void) {
        self.done = done
        repaired = 0
        turnPages = 0
        turnDifferingRanges = 0
        guard !isSelf else { return finish(nil) }
        openConnectionIfClosed()
        guard verifiedConnection !== connection else { return requestDigests() }
        send(requests.makeHealthPing()) { [unowned self] body in self.checkIdentity(body) }
    }

    private func requestDigests() {
        send(requests.makeDigests()) { [unowned self] body in self.compareDigests(body) }
    }

    /// Goes on when the peer is another node; ends the turn (and every later one) when it is this one.
    private func checkIdentity(_ health: [UInt8]) {
        guard NodeReport.parse(health).nodeID == identity.nodeID else {
            verifiedConnection = connection
            return requestDigests()
        }
        isSelf = true
        Log.error("\(place.source) line \(place.entry.line) (\(place.entry.address)) is this node itself "
                  + "(it answers with this node's id \(identity.nodeID), as line \(place.selfEntry.line) (\(place.selfEntry.address)), "
                  + "this node's own entry): not a peer, never synced with; list each node once (docs/OPERATIONS.md)")
        connection?.fail(nil)
        connection = nil
        finish(nil)
    }

    private func compareDigests(_ body: [UInt8]) {
        let started = MonotonicClock.nowNs()
        guard let theirs = SyncCodec.decodeDigests(body, ringID: ringID, rangeCount: store.index.digests.count) else {
            return finish("\(address) has a different ring: it serves another membership generation (it is moving to it, or "
                          + "this node is), or its --replicas or --vnodes differ")
        }
        let mine = store.index.digests
        let found = sharedRanges.filter { mine[$0] != theirs[$0] }
        let now = WallClock.nowMs()
        for range in sharedRanges where mine[range] == theirs[range] { matchedUnixMs[range] = now }
        lastCompareMicroseconds = (MonotonicClock.nowNs() - started) / 1000
        switch comparisons.compared(found) {
        case .done: finish(nil)
        case .compareAgain: after(ms: Limits.repairConfirmDelayMs) { [unowned self] in self.requestDigests() }
        case .page(let confirmed):
            differing = confirmed
            turnDifferingRanges += confirmed.count
            nextRange()
        }
    }

    /// Runs `body` after `ms` unless the turn ended meanwhile.
    private func after(ms: UInt64, _ body: @escaping () -> Void) {
        let timer = Timer(loop: loop)
        pause = timer
        timer.start(afterMs: ms) { [weak self] in
            timer.close()
            guard let self else { return }
            self.pause = nil
            guard self.done != nil else { return }
            body()
        }
    }

    private func nextRange() {
        guard let range = differing.popLast() else { return finish(nil) }
        fetchPage(range: range, from: 0)
    }

    private func fetchPage(range: Int, from: UInt32) {
        if pausesForHandoff, store.isReceivingHandoff(nowMs: MonotonicClock.nowMs()) {
            after(ms: Limits.repairPauseWhileHandoffMs) { [unowned self] in
                guard self.store.isReceivingHandoff(nowMs: MonotonicClock.nowMs()) else {
                    // The handoff filled these ranges since the digests were compared: compare
                    // again, and page only what still differs (not every range it began with).
                    return self.requestDigests()
                }
                self.fetchPage(range: range, from: from)
            }
            return
        }
        turnPages += 1
        send(requests.makeKeysPage(range: range, from: from)) { [unowned self] body in
            guard let page = SyncCodec.decodeKeysPage(body) else { return self.finish("bad key page from \(self.address)") }
            let now = WallClock.nowMs()
            var diff = SyncCodec.diff(page.entries, against: self.store.index, skew: self.store.skew, wallClockUnixMs: now)
            diff.wanted.removeAll { self.collectedHere(page.entries, $0, nowUnixMs: now) }
            self.noteRefused(diff.refused.count, example: diff.refused.first)
            self.fetchRecords(diff.wanted) { [unowned self] in
                if page.next == SyncCodec.endOfRange { self.nextRange() } else { self.fetchPage(range: range, from: page.next) }
            }
        }
    }

    /// Whether `key`'s entry on the peer's page is a tombstone past the grace period for a key
    /// this node holds nothing of: it would be collected again at once (TombstoneRules).
    private func collectedHere(_ page: [SyncCodec.KeyVersion], _ key: [UInt8], nowUnixMs: Int64) -> Bool {
        guard let theirs = page.first(where: { $0.key == key }), theirs.tieBreak == UInt64.max,
              tombstones.skipsRepair(ofTombstone: theirs.version, nowUnixMs: nowUnixMs) else { return false }
        return store.index.lookup(key) == nil
    }

    /// Fetches `keys` in chunks (all in flight together), stores every record, then `then`.
    private func fetchRecords(_ keys: [[UInt8]], then: @escaping () -> Void) {
        guard !keys.isEmpty else { return then() }
        var outstanding = 0
        var failed = false
        let chunkSize = Limits.repairRecordsPerRequest
        for start in stride(from: 0, to: keys.count, by: chunkSize) {
            outstanding += 1
            let chunk = Array(keys[start..<min(start + chunkSize, keys.count)])
            send(requests.makeRecords(keys: chunk)) { [unowned self] body in
                guard !failed else { return }
                guard let records = SyncCodec.decodeRecords(body) else {
                    failed = true
                    return self.finish("bad records from \(self.address)")
                }
                self.store(records) { ok in
                    guard !failed else { return }
                    guard ok else {
                        failed = true
                        return self.finish("could not write repaired records to the log")
                    }
                    outstanding -= 1
                    if outstanding == 0 { then() }
                }
            }
        }
    }

    private func store(_ fetched: [LogRecord], then: @escaping (Bool) -> Void) {
        store.storeFromPeer(fetched, source: "repair from \(self.address)") { [unowned self] stored, allDurable in
            self.repaired += stored
            then(allDurable)
        }
    }

    /// Sends one request; `onSuccess` gets a 200 body, anything else ends the turn.
    private func send(_ request: [UInt8], onSuccess: @escaping ([UInt8]) -> Void) {
        guard done != nil else { return }
        openConnectionIfClosed()
        connection!.send(NodeRequest(bytes: request, deadlineMs: loop.nowMs + timeoutMs) { [unowned self] reply in
            switch reply {
            case .answered(200, _, let answer, _): onSuccess(answer)
            case .answered(503, _, let answer, _) where answer.starts(with: NodeService.busyAnswer.prefix(5)):
                self.finish(Self.busy)
            case .answered(let status, _, let answer, _):
                let summary = InternalRequestEncoder.summary(of: request)
                self.finish("\(self.address) answered \(status) to \(summary): \(String(decoding: answer.prefix(Limits.quotedPeerAnswerBytesMax), as: UTF8.self))")
            case .failed(let reason): self.finish(reason)
            }
        })
    }

    private func openConnectionIfClosed() {
        if connection == nil || connection!.isClosed {
            connection = NodeConnection(address: address, loop: loop, flusher: flusher, resolver: identity.resolver,
                                        connectTimeoutMs: timeoutMs)
        }
    }

    private func noteRefused(_ count: Int, example: [UInt8]?) {
        guard count > 0, let example else { return }
        store.noteRefused(count, "\(address) holds \(count) key(s) at versions more than \(store.skew.skewMsMax) ms ahead of "
            + "this node's clock, e.g. '\(String(decoding: example, as: UTF8.self))': not repaired from it (check NTP on both hosts)")
    }

    private func finish(_ failure: String?) {
        guard let done else { return }
        self.done = nil
        differing.removeAll()
        comparisons.reset()
        done(repaired, failure)
    }

    func checkDeadlines(nowMs: UInt64) {
        connection?.checkDeadlines(nowMs: nowMs)
    }

    func close() {
        pause?.close()
        pause = nil
        connection?.fail(nil)
        connection = nil
        finish("node stopping")
    }
}
