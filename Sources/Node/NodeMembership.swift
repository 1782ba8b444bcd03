// The node's membership (Membership.swift): which hosts file generation it serves, the ones it
// still hands data off from, and the parts that depend on them: anti-entropy with the peers
// of the current ring, and the handoff of keys whose replicas changed.
//
//   start-up: the hosts file's membership vs DIR/membership (what this node served last)
//     same ─▶ resume (a handoff left unfinished starts again) · newer ─▶ a change, as below
//     older or conflicting ─▶ refuse to start, saying which file to fix
//   SIGHUP, or a request or peer that carries a newer generation (at most once per
//   Limits.generationRereadIntervalMs): re-read the file
//     newer ─▶ DIR/membership written ─▶ digests per range of the new ring ─▶ anti-entropy
//              with the new ring's peers (its periodic rounds paused until the handoff is
//              done) ─▶ Handoff ─▶ done: DIR/membership without the old
//     same ─▶ nothing · older or conflicting ─▶ ERROR, the current membership stays
//   no move under way for --release-delay-ms (the proxies have ended theirs), and keys of
//   ranges this node no longer holds in the index ─▶ a release (Handoff, `.release`): each such
//   key goes to its replicas and leaves the index once they all acknowledged it; looked for
//   again every Limits.releaseCheckIntervalMs (a restart replays them from the log until
//   compaction; a proxy still moving may have written one meanwhile)
//
// Requests from a process of an older generation are answered 421 by the router
// (`isOlder`), so that it re-reads its own file; /_/health answers everyone. A write among them
// of a key this node `replicates` in its own membership is kept first, then refused.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class NodeMembership {
    static let stateFileName = "membership"

    private let loop: EventLoop
    private let cron: Cron
    private let store: Store
    private let options: NodeOptions
    private let identity: NodeServer.Identity
    private let statePath: String
    private(set) var memberships: MovingMemberships
    private(set) var antiEntropy: AntiEntropy?
    private var handoff: Handoff?
    /// Counts builds: a re-partitioning finished off the loop for an older one is dropped.
    private var builds = 0
    /// The current membership's ring and this node's index in it (nil: not listed), from the
    /// moment the membership changes (the index's ranges follow off the loop).
    private var currentRing: (ring: HashRing, selfIndex: Int?)?
    /// Paces a re-partitioning's pieces: the snapshot's and the apply's slices, the ring lookups' jobs.
    private var partitionTimer: Timer?
    /// Writes of a process of an older membership kept before their 421 (NodeService.refuseOlder).
    var olderWritesKept = 0
    /// Releasing ranges this node no longer holds, and when it may next look for them.
    private var release: Handoff?
    private var nextReleaseAtMs: UInt64 = 0
    private var releaseDuty: CronDuty?
    /// Writes to ranges this node does not hold, as last seen, and when that count last moved.
    private var foreignSeen = 0
    private var foreignQuietSinceMs: UInt64 = 0
    /// Keys this node removed from its index since start-up because their ranges moved away.
    private var releasedKeys = 0
    private var deadlineDuty: CronDuty?
    private var lastRereadMs: UInt64?
    private var isClosed = false
    /// Set once the node is ready: anti-entropy of a later membership runs rounds at once.
    private var isServing = false
    /// While the node recovers at start-up: what to run once it has caught up.
    private var whenRecovered: (() -> Void)?

    init(loop: EventLoop, cron: Cron, store: Store, options: NodeOptions, identity: NodeServer.Identity, memberships: MovingMemberships) {
        self.loop = loop
        self.cron = cron
        self.store = store
        self.options = options
        self.identity = identity
        self.memberships = memberships
        statePath = options.dataDirectory + "/" + Self.stateFileName
        build()
        deadlineDuty = cron.every(Limits.peerDeadlineCheckIntervalMs, "handoff deadlines") { [unowned self] in
            self.handoff?.checkDeadlines(nowMs: self.loop.nowMs)
            self.release?.checkDeadlines(nowMs: self.loop.nowMs)
        }
        releaseDuty = cron.every(Limits.releasePollIntervalMs, "release of ranges no longer held") { [unowned self] in
            self.releaseIfDue()
        }
    }

    var generation: UInt64 { memberships.current.generation }
    private var selfAddress: HostPort { options.selfAddress! }

    private func ring(of membership: Membership) -> HashRing {
        HashRing(nodes: membership.nodes, vnodesPerNode: options.vnodes, replicas: min(options.replicas, membership.entries.count))
    }

    /// Whether this node is one of `key`'s replicas in the membership it serves.
    func replicates(_ key: [UInt8]) -> Bool {
        guard let (ring, selfIndex) = currentRing, let selfIndex else { return false }
        return ring.replicas(forKey: key).contains(selfIndex)
    }

    /// Whether a request that says `generation` comes from a process of an older membership.
    /// A newer one makes this node re-read its hosts file.
    func isOlder(_ generation: UInt64) -> Bool {
        if generation > memberships.current.generation { rereadSoon(sawGeneration: generation) }
        return generation < memberships.current.generation
    }

    /// The membership this node starts with: the hosts file's, checked against DIR/membership.
    static func startingMemberships(file: Membership, directory: String, source: String) throws -> MovingMemberships {
        let path = directory + "/" + stateFileName
        guard FileSystem.exists(path) else { return MovingMemberships(current: file) }
        var state = try MovingMemberships.parseState(try FileSystem.readTextFile(path), source: path)
        switch state.current.compare(file) {
        case .same: break
        case .newer:
            Log.info("\(source) is \(file.summary); this node last served \(state.current.summary): moving to it")
            state.move(to: file)
        case .older, .conflicting:
            throw CommandLineError((MembershipChange.refusal(state.current.compare(file), current: state.current, incoming: file, source: source) ?? "")
                                   + " (this node's last membership is in \(path))")
        }
        return state
    }

    /// Anti-entropy for the current ring and, while moving, the handoff; DIR/membership written.
    /// At a change (`offLoop`) the index's ranges are computed on the thread pool first, from a
    /// snapshot taken a slice at a time on the loop, and applied a slice at a time: on the loop,
    /// 600k keys held it 30–80 ms at every node at once (the first second of a move at 1M keys
    /// answered a third of its requests, p99 10 ms), the whole snapshot alone 4–22 ms, the
    /// whole apply 20–60 ms. Every slice and pool job is followed by a pause that holds the
    /// whole to Limits.partitionDutyPercent of the time, and the nodes begin one after another
    /// (Limits.partitionStaggerMs apart, in the membership's order, DutyCycle.staggerMs): every
    /// node is told at once.
    /// `then` runs once all is in place.
    private func build(offLoop: Bool = false, then: (() -> Void)? = nil) {
        let current = memberships.current
        let ring = self.ring(of: current)
        currentRing = (ring, current.nodes.firstIndex(of: selfAddress))
        builds += 1
        guard offLoop else {
            store.partition(by: ring)
            return assemble(current, ring, then: then)
        }
        let build = builds
        let startNs = MonotonicClock.nowNs()
        store.isPartitioning = true
        let staggerMs = DutyCycle.staggerMs(position: current.nodes.firstIndex(of: selfAddress) ?? current.nodes.count,
                                            stepMs: Limits.partitionStaggerMs, steps: Limits.partitionStaggerSteps)
        after(ms: staggerMs, build: build) { [unowned self] in
            self.repartition(store.index, by: ring, for: current, build: build) { cost in
                self.store.isPartitioning = false
                Log.info("index re-partitioned for generation \(current.generation) in \((MonotonicClock.nowNs() - startNs) / 1_000_000) ms "
                         + "(begun after a stagger of \(staggerMs) ms): \(cost)")
                self.assemble(current, ring, then: then)
            }
        }
    }

    /// What a re-partitioning took, for its log line: loop time and slices of the snapshot,
    /// pool time and jobs of the ring lookups, loop time and slices of the apply.
    private struct PartitionCost: CustomStringConvertible {
        var snapshotNs: UInt64 = 0, snapshotSlices = 0, lookupNs: UInt64 = 0, lookupJobs = 0, applyNs: UInt64 = 0, applySlices = 0

        var description: String {
            "\(snapshotNs / 1_000) µs of the loop in \(snapshotSlices) slice(s) for the snapshot, "
                + "\(lookupNs / 1_000) µs of the thread pool in \(lookupJobs) job(s) for the ring lookups, "
                + "\(applyNs / 1_000) µs of the loop in \(applySlices) slice(s) to apply "
                + "(each piece followed by a pause: \(Limits.partitionDutyPercent) % of the time)"
        }
    }

    /// Snapshot, ring lookups and apply of `build`'s re-partitioning, then `done` with their cost.
    private func repartition(_ index: KeyValueIndex, by ring: HashRing, for current: Membership, build: Int,
                             done: @escaping (PartitionCost) -> Void) {
        var cost = PartitionCost()
        takeSnapshot(of: index, build: build) { [unowned self] snapshot, snapshotNs, slices in
            (cost.snapshotNs, cost.snapshotSlices) = (snapshotNs, slices)
            self.lookUpRanges(of: snapshot, in: ring, build: build) { ranges, poolNs, jobs in
                (cost.lookupNs, cost.lookupJobs) = (poolNs, jobs)
                index.beginPartition(by: ring, snapshot: ranges == nil ? nil : snapshot, ranges: ranges ?? [])
                index.ownedRanges = Self.ownedRanges(in: ring, selfIndex: current.nodes.firstIndex(of: self.selfAddress))
                self.inSlices(build: build, { index.continuePartition(slots: Limits.partitionApplySlotsPerTurn) }) { applyNs, applySlices in
                    (cost.applyNs, cost.applySlices) = (applyNs, applySlices)
                    done(cost)
                }
            }
        }
    }

    /// Snapshots `index` for re-partitioning, Limits.partitionSnapshotSlotsPerTurn slots per
    /// slice, then hands it over with the loop time it took and its number of slices.
    private func takeSnapshot(of index: KeyValueIndex, build: Int, then: @escaping (PartitionSnapshot, UInt64, Int) -> Void) {
        var snapshot = index.startPartitionSnapshot()
        inSlices(build: build, { index.continuePartitionSnapshot(&snapshot, slots: Limits.partitionSnapshotSlotsPerTurn) }) { loopNs, slices in
            then(snapshot, loopNs, slices)
        }
    }

    /// The ranges of the snapshot's entries in `ring` (carried over from the snapshot's ring
    /// where only points were removed, else looked up), on the thread pool
    /// Limits.partitionLookupKeysPerJob at a time, each job followed by its pause (DutyCycle);
    /// then `then` with them (nil if the pool could not run a job: the apply looks every entry
    /// up), the pool's time and the number of jobs. Dropped if a newer build began.
    private func lookUpRanges(of snapshot: PartitionSnapshot, in ring: HashRing, build: Int,
                              then: @escaping ([UInt32]?, UInt64, Int) -> Void) {
        let total = snapshot.fingerprints.count
        let carried = snapshot.ring.flatMap { ring.carriedRanges(from: $0) }
        var ranges: [UInt32] = []
        ranges.reserveCapacity(total)
        var poolNs: UInt64 = 0
        var jobs = 0
        func job() {
            guard ranges.count < total else { return then(ranges, poolNs, jobs) }
            let chunk = ranges.count..<min(ranges.count + Limits.partitionLookupKeysPerJob, total)
            PoolWork.start(on: loop, { () -> ([UInt32], UInt64) in
                let startNs = MonotonicClock.nowNs()
                let found = KeyValueIndex.ranges(of: snapshot, chunk, carried: carried, in: ring)
                return (found, MonotonicClock.nowNs() - startNs)
            }) { [weak self] result in
                guard let self, !self.isClosed, self.builds == build else { return }
                guard let (found, tookNs) = result else { return then(nil, poolNs, jobs) }
                ranges += found
                poolNs += tookNs
                jobs += 1
                self.after(ms: DutyCycle.pauseMs(afterWorkNs: tookNs, percent: Limits.partitionDutyPercent), build: build, job)
            }
        }
        job()
    }

    /// Runs `slice` on the loop, each run followed by its pause (DutyCycle,
    /// Limits.partitionDutyPercent), until it returns true; then `then` with the loop time the
    /// slices took and their number. Dropped if a newer build began.
    private func inSlices(build: Int, _ slice: @escaping () -> Bool, then: @escaping (UInt64, Int) -> Void) {
        var loopNs: UInt64 = 0
        var slices = 0
        func piece() {
            let sliceStartNs = MonotonicClock.nowNs()
            let isDone = slice()
            let tookNs = MonotonicClock.nowNs() - sliceStartNs
            loopNs += tookNs
            slices += 1
            guard isDone else { return after(ms: DutyCycle.pauseMs(afterWorkNs: tookNs, percent: Limits.partitionDutyPercent), build: build, piece) }
            then(loopNs, slices)
        }
        after(ms: 0, build: build, piece)
    }

    /// Runs `action` after `ms` on the re-partitioning's timer (what it held before is dropped),
    /// unless the node closed or a newer build began meanwhile.
    private func after(ms: UInt64, build: Int, _ action: @escaping () -> Void) {
        let timer = partitionTimer ?? Timer(loop: loop)
        partitionTimer = timer
        timer.start(afterMs: ms) { [weak self] in
            guard let self, !self.isClosed, self.builds == build else { return }
            action()
        }
    }

    /// The rest of `build`, once the index knows the ring's ranges.
    private func assemble(_ current: Membership, _ ring: HashRing, then: (() -> Void)?) {
        defer { then?() }
        let selfIndex = current.nodes.firstIndex(of: selfAddress)
        store.index.ownedRanges = Self.ownedRanges(in: ring, selfIndex: selfIndex)
        if let selfIndex {
            antiEntropy = AntiEntropy(loop: loop, cron: cron, store: store, ring: ring, membership: current, selfIndex: selfIndex,
                                      options: options, identity: identity)
        } else {
            antiEntropy = nil
            Log.info("this node (\(selfAddress)) is not in generation \(current.generation): it hands its data to the nodes "
                     + "that are, then may be stopped (scripts/removeNode.bash waits for that)")
        }
        writeState()
        guard memberships.isMoving else { return settled() }
        antiEntropy?.roundsPaused = true
        let rule = HandoffRule(current: ring, older: memberships.previous.map { self.ring(of: $0) }, selfAddress: selfAddress)
        let handoff = Handoff(loop: loop, cron: cron, store: store, rule: rule, generation: current.generation,
                              timeoutMs: options.peerTimeoutMs, resolver: identity.resolver) { [options] address in
            InternalRequestEncoder(host: address.description, clusterToken: options.clusterToken, generation: current.generation)
        }
        handoff.onNewerGeneration = { [unowned self] in self.rereadSoon(sawGeneration: nil) }
        self.handoff = handoff
        handoff.start { [unowned self] in
            self.memberships.finishMove()
            self.antiEntropy?.roundsPaused = false
            self.writeState()
            self.settled()
            Log.info("membership generation \(current.generation): every key this node held is on its new replicas")
        }
    }

    /// Per range of `ring`, whether the node at `selfIndex` replicates it (nil: not listed).
    private static func ownedRanges(in ring: HashRing, selfIndex: Int?) -> [Bool]? {
        selfIndex.map { index in (0..<ring.rangeCount).map { ring.replicas(ofRange: $0).contains(index) } }
    }

    /// No move under way (from now): ranges no longer held go after --release-delay-ms.
    private func settled() {
        nextReleaseAtMs = loop.nowMs + options.releaseDelayMs
    }

    /// Starts a release when it is due, the node serves and its index holds keys of ranges it
    /// no longer holds (a range's digest is non-zero exactly while it has entries).
    private func releaseIfDue() {
        if store.index.foreignApplied != foreignSeen {
            foreignSeen = store.index.foreignApplied
            foreignQuietSinceMs = loop.nowMs
        }
        // Proxies still moving write to this node's old ranges too: wait until they stop.
        guard loop.nowMs >= foreignQuietSinceMs + options.releaseDelayMs else { return }
        guard !isClosed, isServing, release == nil, !memberships.isMoving, antiEntropy != nil, loop.nowMs >= nextReleaseAtMs else { return }
        guard let owned = store.index.ownedRanges else { return }
        let digests = store.index.digests
        let holdsReleased = (0..<min(owned.count, digests.count)).contains { digests[$0] != 0 && !owned[$0] }
        nextReleaseAtMs = loop.nowMs + Limits.releaseCheckIntervalMs
        guard holdsReleased else { return }
        let current = memberships.current
        let ring = self.ring(of: current)
        let rule = HandoffRule(current: ring, older: [], selfAddress: selfAddress)
        let release = Handoff(loop: loop, cron: cron, store: store, rule: rule, generation: current.generation,
                              timeoutMs: options.peerTimeoutMs, resolver: identity.resolver, purpose: .release(options.tombstones)) {
            [options] address in
            InternalRequestEncoder(host: address.description, clusterToken: options.clusterToken, generation: current.generation)
        }
        release.onNewerGeneration = { [unowned self] in self.rereadSoon(sawGeneration: nil) }
        self.release = release
        let foreignAtStart = store.index.foreignApplied
        release.start { [unowned self] in
            self.releasedKeys += release.released
            release.close()
            self.retire(release)
            self.release = nil
            // Written meanwhile: released again once the writes stop; else the periodic look.
            let wroteMeanwhile = self.store.index.foreignApplied != foreignAtStart
            self.nextReleaseAtMs = self.loop.nowMs + (wroteMeanwhile ? 0 : Limits.releaseCheckIntervalMs)
        }
    }

    /// Start-up: pulls what the node missed from its current peers, then `ready` and periodic
    /// repair. A membership adopted meanwhile recovers from its own peers instead.
    func recover(then ready: @escaping () -> Void) {
        guard let antiEntropy else {
            isServing = true
            return ready()
        }
        whenRecovered = ready
        antiEntropy.recover { [unowned self] in
            guard let ready = self.whenRecovered else { return }
            self.whenRecovered = nil
            self.isServing = true
            ready()
            self.antiEntropy?.startPeriodic()
        }
    }

    func reload() {
        lastRereadMs = loop.nowMs
        guard let path = options.hostsPath else { return }
        let incoming: Membership
        do {
            incoming = try HostsFile.membershipOfComplete(try FileSystem.readTextFile(path), source: path)
            if let problem = ClusterLimits.problem(nodes: incoming.entries.count, replicas: options.replicas, vnodes: options.vnodes,
                                                   source: path) {
                throw CommandLineError(problem)
            }
        } catch {
            return Log.error("keeping membership generation \(generation): \(error)")
        }
        let change = memberships.current.compare(incoming)
        if let refusal = MembershipChange.refusal(change, current: memberships.current, incoming: incoming, source: path) {
            return Log.error(refusal)
        }
        guard change == .newer else { return Log.info("\(path) re-read: membership unchanged, \(memberships.current.summary)") }
        adopt(incoming)
    }

    private func adopt(_ incoming: Membership) {
        let from = memberships.current
        Log.info("membership: \(from.summary) ─▶ \(incoming.summary)")
        closeParts()
        memberships.move(to: incoming)
        build(offLoop: true) { [unowned self] in
            if isServing { antiEntropy?.startPeriodic() }
            if let ready = whenRecovered { recover(then: ready) }
        }
    }

    private func rereadSoon(sawGeneration: UInt64?) {
        guard !isClosed, options.hostsPath != nil else { return }
        if let last = lastRereadMs, loop.nowMs - last < Limits.generationRereadIntervalMs { return }
        Log.info("a peer or proxy serves a newer membership generation\(sawGeneration.map { " (\($0))" } ?? ""): re-reading \(options.hostsPath!)")
        reload()
    }

    private func writeState() {
        do {
            try FileSystem.writeFileAtomically(statePath, Array(memberships.stateText.utf8))
        } catch {
            Log.error("could not write \(statePath): \(error) (a restart would not know this node's last membership)")
        }
    }

    /// `"membership":{…}` for /_/health: the generation, whether this node is in it, the
    /// handoff's progress and, while moving, the memberships it moves from (a proxy started
    /// meanwhile reads them: `MembershipReport`).
    func statusJSON() -> String {
        let member = memberships.current.nodes.contains(selfAddress)
        let handoffText = handoff.map { $0.progress.json } ?? "null"
        return "{\"generation\":\(generation),\"member\":\(member),\"moving\":\(memberships.isMoving),"
            + "\"movingFrom\":\"\(MembershipReport.encodePrevious(memberships.previous))\",\"handoff\":\(handoffText),"
            + "\"released\":\(releasedKeys + (release?.released ?? 0)),\"releasing\":\(release != nil),"
            + "\"olderWritesKept\":\(olderWritesKept)}"
    }

    var handoffProgress: HandoffProgress? { handoff?.progress }

    /// Closes anti-entropy and the handoff. Their objects stay referenced (a closed part's
    /// timers and connections may still call back once): the last few are kept.
    private func closeParts() {
        antiEntropy?.close()
        handoff?.close()
        release?.close()
        for part in [antiEntropy as AnyObject?, handoff as AnyObject?, release as AnyObject?] { retire(part) }
        antiEntropy = nil
        handoff = nil
        release = nil
    }

    private func retire(_ part: AnyObject?) {
        guard let part else { return }
        retired.append(part)
        if retired.count > Self.retiredKept { retired.removeFirst(retired.count - Self.retiredKept) }
    }

    /// Closed parts kept referenced: far more than one membership change's callbacks need.
    private static let retiredKept = 16
    private var retired: [AnyObject] = []

    func close() {
        isClosed = true
        partitionTimer?.close()
        partitionTimer = nil
        closeParts()
        if let deadlineDuty { cron.cancel(deadlineDuty) }
        if let releaseDuty { cron.cancel(releaseDuty) }
        deadlineDuty = nil
        releaseDuty = nil
    }
}
