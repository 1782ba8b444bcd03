// SIGHUP: the proxy re-reads its hosts file and rebuilds its ring.
//
//   read + parse ─▶ the new names looked up (off the loop), waiting at most
//   Limits.hostsNamesWaitMs ─▶ two lines that connect to one address? refuse : adopt
//
// Nodes still listed keep their pools and health; new ones start as unknown (pinged at once);
// removed ones have their connections closed (requests in flight on them fail over). A file
// that does not parse, lists fewer nodes than --replicas, does not end with a newline (it may
// be half-written), or names one node on two lines (HostsAliases.swift) is refused, with an
// ERROR naming the lines, and the old ring stays. A name still silent after the wait does not
// hold the reload up: its alias check comes when it answers (the sentinel's). A second SIGHUP
// during the wait supersedes the first. A client refused as an alias is not kept: the reload
// makes a new one, so a fixed file brings the entry back.
//
// Data does not move: a key whose replicas change is found only on its new replicas once they
// have it. Until rebalancing exists (a later issue), change the ring only by adding nodes
// whose ranges can be refilled by the nodes' own anti-entropy (restart every node with the new
// hosts file), or expect reads of moved keys to miss. docs/OPERATIONS.md says the same.

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
        let listed: [HostsEntry]
        do {
            listed = try HostsFile.entriesOfComplete(try FileSystem.readTextFile(options.hostsPath), source: options.hostsPath)
            if let problem = ClusterLimits.problem(nodes: listed.count, replicas: options.replicas, vnodes: options.vnodes,
                                                   source: options.hostsPath) {
                throw CommandLineError(problem)
            }
        } catch {
            return Log.error("SIGHUP: keeping the current ring: \(error)")
        }
        reloads += 1
        let reload = reloads
        let addresses = listed.map(\.address)
        resolver.watch(cluster.nodes.map(\.address) + addresses)
        resolver.whenAnswered(addresses, withinMs: Limits.hostsNamesWaitMs) { [unowned self] in
            guard reload == self.reloads else { return }
            self.adopt(listed)
        }
    }

    /// Replaces the ring with `listed`, unless two of its lines connect to one address.
    private func adopt(_ listed: [HostsEntry]) {
        let addresses = listed.map(\.address)
        if let alias = HostsAliases.byAddress(addresses.map { resolver.knownAddress(of: $0) }).first {
            resolver.watch(cluster.nodes.map(\.address))
            return Log.error("SIGHUP: keeping the current ring: "
                             + HostsAliases.message(alias, entries: listed, source: options.hostsPath))
        }
        resolver.watch(addresses)
        let current = cluster.nodes
        let clients = Self.clients(for: listed, reusing: current, loop: loop, options: options, flusher: flusher, resolver: resolver)
        let removed = current.filter { old in !clients.contains { $0 === old } }
        let added = clients.filter { new in !current.contains { $0 === new } }
        cluster.replace(ring: HashRing(nodes: addresses, vnodesPerNode: options.vnodes, replicas: options.replicas), nodes: clients)
        sentinel.adopt(clients)
        for node in removed { node.closeAll() }
        Log.info("SIGHUP: \(options.hostsPath) re-read: \(clients.count) nodes, \(added.count) added, \(removed.count) removed"
                 + (added.isEmpty && removed.isEmpty ? "" : "; data does not move between nodes (docs/OPERATIONS.md)"))
        sentinel.logTable()
    }

    /// A client per listed node, in file order: the existing one for an address still listed
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
