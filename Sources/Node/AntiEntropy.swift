// Anti-entropy: a node pulls from each peer that shares key ranges with it every record it
// lacks or holds at an older version. Start-up recovery and the periodic repair are the same
// pull; both sides of a pair run it, so each side ends with the union of both (newest wins).
//
//   for each peer, in parallel, one step at a time:
//     GET /_/digests ──▶ compare with my digests, shared ranges only: O(ranges)
//       └ some differ: GET /_/digests again Limits.repairConfirmDelayMs later (DifferingRanges)
//       └ for each range that differed both times:  GET /_/keys?r=R&from=F (a page of key, version)
//            └ keys I lack or hold older ──▶ POST /_/records in chunks ──▶ store each record
//              (durably, through the commit log) ──▶ next page ──▶ next range
//
// Bounded: one page (≤ Limits.repairKeysPerPage keys) per peer at a time, its fetches in chunks of
// `Limits.repairRecordsPerRequest`; every request has a deadline. A failed step ends that peer's turn;
// the next round retries. During recovery a failing peer is retried a few times, then skipped
// with a warning (it may be down: then it is not the copy we need).
//
// Periodic work runs as duties on the node's cron: rounds every --sync-interval-ms (after
// recovery) and the peer requests' deadline checks every `Limits.peerDeadlineCheckIntervalMs`.
// A retry during recovery is a one-shot delay, so it keeps a timer of its own. Records are
// stored through the Store, which refers to nothing here.
//
// A peer entry that turns out to be this node (another name or address of it: its /_/health
// reports this node's id) is no peer: it is logged as an ERROR naming both lines of the hosts
// file, never synced with, and not counted among the peers.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class AntiEntropy {

    private let loop: EventLoop
    private let cron: Cron
    private let options: NodeOptions
    private let flusher: OutputFlusher
    private var peers: [PeerSync] = []
    /// Per key range, the peers that share it.
    private var peersOfRange: [[PeerSync]] = []
    private var roundDuty: CronDuty?
    private var deadlineDuty: CronDuty?
    private var running = 0
    private var roundStartedMs: UInt64 = 0
    private var roundRepaired = 0
    private var roundPages = 0
    private var roundDifferingRanges = 0
    /// After `close`, callbacks of failed turns start nothing new (the loop must be able to end).
    private var isClosed = false
    /// Set while this node's membership moves (NodeMembership): no periodic round then. Its
    /// peers' ranges fill from handoff batches, so their digests differ from this node's
    /// until the end, and a round pages every differing range: at 1M keys, rounds begun in a
    /// gap between batches took 2.7 s each and the foreground's second fell to 1,108 answers
    /// (p99 34 ms) just before a remove ended. Start-up recovery is not paused (it waits for
    /// the batches itself).
    var roundsPaused = false
    /// Start-up recovery's pending retries, one per peer at most.
    private var retryTimers: [ObjectIdentifier: Timer] = [:]

    // Figures for /_/health.
    private var rounds = 0
    private var lastRoundMs: UInt64 = 0
    private var repairedTotal = 0
    private var pagesTotal = 0
    private var lastCompareMicroseconds: UInt64 = 0

    /// Peers are the nodes of `membership` (whose ring is `ring`) that share key ranges with this one.
    init(loop: EventLoop, cron: Cron, store: Store, ring: HashRing, membership: Membership, selfIndex: Int, options: NodeOptions,
         identity: NodeServer.Identity) {
        self.loop = loop
        self.cron = cron
        self.options = options
        flusher = OutputFlusher(loop: loop)
        for (peerIndex, peer) in ring.nodes.enumerated() where peerIndex != selfIndex {
            let shared = (0..<ring.rangeCount).filter {
                let replicas = ring.replicas(ofRange: $0)
                return replicas.contains(selfIndex) && replicas.contains(peerIndex)
            }
            guard !shared.isEmpty else { continue }
            let place = PeerSync.Place(entry: membership.entries[peerIndex], selfEntry: membership.entries[selfIndex],
                                       source: options.hostsPath ?? "hosts file")
            peers.append(PeerSync(address: peer, place: place, sharedRanges: shared, ringID: SyncCodec.ringID(ring),
                                  requests: InternalRequestEncoder(host: peer.description, clusterToken: options.clusterToken,
                                                                   generation: membership.generation),
                                  loop: loop, flusher: flusher, store: store, identity: identity, timeoutMs: options.peerTimeoutMs,
                                  tombstones: options.tombstones))
        }
        peersOfRange = [[PeerSync]](repeating: [], count: ring.rangeCount)
        for peer in peers {
            for range in peer.sharedRanges { peersOfRange[range].append(peer) }
        }
        deadlineDuty = cron.every(Limits.peerDeadlineCheckIntervalMs, "peer deadlines") {
            for peer in self.peers { peer.checkDeadlines(nowMs: self.loop.nowMs) }
        }
    }

    /// Start-up: pulls from every peer (retrying a failing one a few times), then `completion`.
    func recover(completion: @escaping () -> Void) {
        guard !peers.isEmpty else { return completion() }
        Log.info("recovering: pulling missed records from \(peers.count) peer(s)")
        beginRound()
        for peer in peers { recover(peer, attempt: 1, completion: completion) }
    }

    private func recover(_ peer: PeerSync, attempt: Int, completion: @escaping () -> Void) {
        peer.pausesForHandoff = true
        peer.run { [unowned self] repaired, failure in
            peer.pausesForHandoff = false
            self.noteTurn(of: peer, repaired: repaired)
            guard !self.isClosed else { return }
            if let failure {
                let isBusy = failure == PeerSync.busy
                guard isBusy || attempt < Limits.recoveryAttemptsMax else {
                    Log.warning("recovery from \(peer.address) gave up after \(attempt) attempts: \(failure)")
                    return self.peerFinished(completion)
                }
                // A one-shot delay, not a periodic duty: a timer of its own (closed by `close`
                // if the node stops first: an open handle keeps its timer for ever).
                let retry = Timer(loop: self.loop)
                self.retryTimers[ObjectIdentifier(retry)] = retry
                retry.start(afterMs: Limits.recoveryRetryDelayMs) { [weak self] in
                    retry.close()
                    self?.retryTimers[ObjectIdentifier(retry)] = nil
                    guard let self, !self.isClosed else { return }
                    self.recover(peer, attempt: isBusy ? attempt : attempt + 1, completion: completion)
                }
                return
            }
            self.peerFinished(completion)
        }
    }

    /// Runs a round every `syncIntervalMs` (a round still running delays the next).
    func startPeriodic() {
        guard !peers.isEmpty, !isClosed else { return }
        roundDuty = cron.every(options.syncIntervalMs, "repair round") { self.periodicRound() }
    }

    private func periodicRound() {
        guard running == 0, !roundsPaused else { return }
        beginRound()
        for peer in peers {
            peer.run { [unowned self] repaired, failure in
                self.noteTurn(of: peer, repaired: repaired)
                if failure != PeerSync.busy { self.logTurn(of: peer, failure: failure) }
                self.peerFinished {}
            }
        }
    }

    /// A failed turn is logged when a peer starts failing, then at most once per
    /// Limits.repeatedFailureLogIntervalMs with a count; a success after failures once.
    private func logTurn(of peer: PeerSync, failure: String?) {
        let now = loop.nowMs
        guard let failure else {
            return Log.recovery(&peer.failures, nowMs: now) { "repair with \(peer.address) works again after \($0) failed round(s) over \($1) ms" }
        }
        Log.failure(&peer.failures, nowMs: now, level: .warning, first: "repair with \(peer.address) failed: \(failure)") {
            "repair with \(peer.address) still failing: \($0) more failed round(s) in \($1) s (last: \(failure))"
        }
    }

    private func beginRound() {
        running = peers.count
        roundStartedMs = loop.nowMs
        roundRepaired = 0
        roundPages = 0
        roundDifferingRanges = 0
    }

    private func noteTurn(of peer: PeerSync, repaired: Int) {
        roundRepaired += repaired
        roundPages += peer.turnPages
        roundDifferingRanges += peer.turnDifferingRanges
    }

    private func peerFinished(_ completion: () -> Void) {
        running -= 1
        guard running == 0 else { return }
        rounds += 1
        lastRoundMs = loop.nowMs - roundStartedMs
        repairedTotal += roundRepaired
        pagesTotal += roundPages
        lastCompareMicroseconds = peers.map(\.lastCompareMicroseconds).max() ?? 0
        if roundRepaired > 0 || roundPages > 0 {
            Log.info("repair round: \(roundRepaired) record(s) pulled from peers in \(lastRoundMs) ms "
                     + "(\(roundPages) key page(s) of \(roundDifferingRanges) differing range(s) asked for)")
        }
        completion()
    }

    /// When every peer sharing `range` last had this node's digest of it (nil: one has not yet);
    /// a range no peer shares is confirmed now. Tombstone collection reads it.
    func confirmedUnixMs(range: Int) -> Int64? {
        var oldest = Int64.max
        for peer in peersOfRange[range] where !peer.isSelf {
            guard let matched = peer.matchedUnixMs[range] else { return nil }
            oldest = min(oldest, matched)
        }
        return oldest
    }

    /// Peers and completed rounds: what a proxy's ping reads (NodeReport) to tell a node caught up.
    var progress: (peers: Int, rounds: Int) { (peers.count, rounds) }

    func statusJSON() -> String {
        "{\"peers\":\(peers.filter { !$0.isSelf }.count),\"rounds\":\(rounds),\"lastRoundMs\":\(lastRoundMs),\"repaired\":\(repairedTotal),\"pages\":\(pagesTotal),"
            + "\"lastCompareMicroseconds\":\(lastCompareMicroseconds)}"
    }

    func close() {
        isClosed = true
        for duty in [roundDuty, deadlineDuty] {
            if let duty { cron.cancel(duty) }
        }
        roundDuty = nil
        deadlineDuty = nil
        for timer in retryTimers.values { timer.close() }
        retryTimers = [:]
        for peer in peers { peer.close() }
        flusher.close()
    }
}
