// The proxy's membership (Membership.swift): it re-reads its hosts file, moves to a newer
// generation while keeping the ones data still moves from, and ends the move when every node
// says its handoff is done.
//
//   SIGHUP, or a node that serves a newer generation (a ping report, a 421 answer; at most once
//   per Limits.generationRereadIntervalMs) ─▶ read + parse
//     same generation and nodes ─▶ nothing · older, or same generation with other nodes ─▶
//     ERROR, the current membership stays · newer ─▶ the new names looked up (off the loop,
//     at most Limits.hostsNamesWaitMs) ─▶ two lines that connect to one address? refuse : adopt
//   adopt ─▶ Placement of the new membership and the ones still moving: writes to all their
//     replicas, reads from all, newest wins (ProxyService)
//   every ping report ─▶ every node of the current membership serves it and has no handoff
//     left, and every node only older ones list has none left or is down ─▶ the move is
//     finished: only the current ring; the nodes it no longer lists are let go
//   a proxy started while data moves ─▶ the nodes' reports say which memberships they move
//     from (`movingFrom`) ─▶ the same placement as a proxy that saw the change
//
// Nodes still listed keep their pools and health; new ones start as unknown (pinged at once);
// removed ones have their connections closed (requests in flight on them fail over). A file
// that does not parse, lists fewer nodes than --replicas, does not end with a newline (it may
// be half-written), or names one node on two lines (HostsAliases.swift) is refused, with an
// ERROR naming the lines, and the old ring stays. A name still silent after the wait does not
// hold the reload up: its alias check comes when it answers (the sentinel's). A second SIGHUP
// during the wait supersedes the first. A client refused as an alias is not kept: the reload
// makes a new one, so a fixed file brings the entry back.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class HostsReloader {
    private let loop: EventLoop
    private let options: ProxyOptions
    private let flusher: OutputFlusher
    private let cluster: ProxyCluster
    private let sentinel: Sentinel
    private let resolver: NameResolver
    /// Counts reloads, so that a reload still waiting for names when the next SIGHUP comes is dropped.
    private var reloads = 0
    private var lastRereadMs: UInt64?
    /// When the current move began (for the log line that ends it).
    private var moveStartedMs: UInt64?
    /// Told after every re-read, adopted or not (the router sends held requests again).
    var onReread: (() -> Void)?

    /// ProxyServer hands it the cluster it replaces, the sentinel it tells, the resolver it asks.
    init(loop: EventLoop, options: ProxyOptions, flusher: OutputFlusher, cluster: ProxyCluster, sentinel: Sentinel,
         resolver: NameResolver) {
        self.loop = loop
        self.options = options
        self.flusher = flusher
        self.cluster = cluster
        self.sentinel = sentinel
        self.resolver = resolver
    }

    func reload() {
        lastRereadMs = loop.nowMs
        let incoming: Membership
        do {
            incoming = try HostsFile.membershipOfComplete(try FileSystem.readTextFile(options.hostsPath), source: options.hostsPath)
            if let problem = ClusterLimits.problem(nodes: incoming.entries.count, replicas: options.replicas, vnodes: options.vnodes,
                                                   source: options.hostsPath) {
                throw CommandLineError(problem)
            }
        } catch {
            Log.error("SIGHUP: keeping the current ring: \(error)")
            return settled()
        }
        let current = cluster.placement.memberships.current
        let change = current.compare(incoming)
        if let refusal = MembershipChange.refusal(change, current: current, incoming: incoming, source: options.hostsPath) {
            Log.error("SIGHUP: keeping the current ring: \(refusal)")
            return settled()
        }
        guard change == .newer else {
            Log.info("SIGHUP: \(options.hostsPath) re-read: unchanged, \(current.summary)")
            return settled()
        }
        reloads += 1
        let reload = reloads
        let addresses = incoming.nodes
        resolver.watch(cluster.nodes.map(\.address) + addresses)
        resolver.whenAnswered(addresses, withinMs: Limits.hostsNamesWaitMs) { [unowned self] in
            guard reload == self.reloads else { return }
            self.adopt(incoming)
        }
    }

    /// A node serves a newer generation than this proxy: its own file is re-read (rate-limited).
    func sawNewerGeneration(_ generation: UInt64?) {
        if let last = lastRereadMs, loop.nowMs - last < Limits.generationRereadIntervalMs { return }
        Log.info("a node serves a newer membership generation\(generation.map { " (\($0))" } ?? "") than this proxy's "
                 + "\(cluster.generation): re-reading \(options.hostsPath)")
        reload()
    }

    /// Moves to `incoming`, unless two of its lines connect to one address.
    private func adopt(_ incoming: Membership) {
        let addresses = incoming.nodes
        if let alias = HostsAliases.byAddress(addresses.map { resolver.knownAddress(of: $0) }).first {
            resolver.watch(cluster.nodes.map(\.address))
            Log.error("SIGHUP: keeping the current ring: " + HostsAliases.message(alias, entries: incoming.entries, source: options.hostsPath))
            return settled()
        }
        var memberships = cluster.placement.memberships
        let before = memberships.current
        memberships.move(to: incoming)
        moveStartedMs = loop.nowMs
        let (added, removed) = install(memberships)
        Log.info("SIGHUP: \(options.hostsPath) re-read: \(before.summary) ─▶ \(incoming.summary): \(added) added, \(removed) removed; "
                 + "writes go to the replicas of both, a read of a key that moves asks a replica of both (else every replica), until every node has handed its data off")
        sentinel.logTable()
        settled()
    }

    private func settled() {
        onReread?()
    }

    /// A node's ping report: a newer generation is re-read; a proxy that did not see the
    /// change learns what is still moving; a finished move ends.
    func nodeReported(_ node: NodeClient, _ report: NodeReport) {
        guard let generation = report.generation else { return }
        if generation > cluster.generation { return sawNewerGeneration(generation) }
        if generation == cluster.generation, report.isMoving, !cluster.placement.isMoving, !report.movingFrom.isEmpty {
            return learnMove(from: report.movingFrom, reportedBy: node)
        }
        if cluster.placement.isMoving && isMoveFinished() { finishMove() }
    }

    private func isMoveFinished() -> Bool {
        let generation = cluster.generation
        for (position, node) in cluster.nodes.enumerated() {
            let isCurrent = position < cluster.placement.current.nodes.count
            if !isCurrent && node.health.state == .down { continue }
            guard let report = node.lastReport, report.generation.map({ $0 >= generation }) == true, !report.isMoving else { return false }
            // A current node still recovering may lack writes it missed (repair waits for the
            // handoffs): the move, and its reads of every replica, last until it has caught up.
            if isCurrent && report.readiness != .ready { return false }
        }
        return true
    }

    private func finishMove() {
        var memberships = cluster.placement.memberships
        memberships.finishMove()
        let (_, removed) = install(memberships)
        let tookMs = moveStartedMs.map { loop.nowMs - $0 }
        moveStartedMs = nil
        Log.info("membership \(memberships.current.summary): every node has handed its data off"
                 + (tookMs.map { " (\($0) ms after this proxy adopted it)" } ?? "") + "; reads and writes use its ring alone"
                 + (removed > 0 ? ", \(removed) node(s) no longer listed let go" : ""))
        sentinel.logTable()
    }

    private func learnMove(from previous: [Membership], reportedBy node: NodeClient) {
        let memberships = MovingMemberships(current: cluster.placement.memberships.current, previous: previous)
        moveStartedMs = loop.nowMs
        _ = install(memberships)
        Log.info("\(node.address) is still handing off data from \(previous.map { "generation \($0.generation)" }.joined(separator: ", ")): "
                 + "writes go to the replicas of all, a read of a key that moves asks a replica of all (else every replica), until every node has handed its data off")
    }

    /// Installs the placement of `memberships` and a client per node; returns (added, removed).
    private func install(_ memberships: MovingMemberships) -> (Int, Int) {
        let placement = Placement(memberships, vnodesPerNode: options.vnodes, replicas: options.replicas)
        let current = cluster.nodes
        let clients = Self.clients(for: Self.entries(of: memberships), reusing: current, loop: loop, options: options,
                                   flusher: flusher, resolver: resolver)
        let removed = current.filter { old in !clients.contains { $0 === old } }
        let added = clients.filter { new in !current.contains { $0 === new } }
        resolver.watch(clients.map(\.address))
        cluster.replace(placement: placement, nodes: clients)
        sentinel.adopt(clients)
        for node in removed { node.closeAll() }
        return (added.count, removed.count)
    }

    /// The entries of `memberships.allNodes`, each with the line of the newest membership listing it.
    static func entries(of memberships: MovingMemberships) -> [HostsEntry] {
        memberships.allNodes.map { node in
            ([memberships.current] + memberships.previous).lazy.compactMap { $0.entries.first { $0.address == node } }.first!
        }
    }

    /// A client per listed node, in order: the existing one for an address still listed
    /// (unless it was refused as an alias).
    static func clients(for listed: [HostsEntry], reusing existing: [NodeClient], loop: EventLoop, options: ProxyOptions,
                        flusher: OutputFlusher, resolver: NameResolver) -> [NodeClient] {
        listed.enumerated().map { index, entry in
            if let kept = existing.first(where: { $0.address == entry.address && $0.health.state != .refused }) {
                kept.index = index
                kept.line = entry.line
                return kept
            }
            return NodeClient(entry: entry, index: index, loop: loop, options: options, flusher: flusher, resolver: resolver)
        }
    }
}
