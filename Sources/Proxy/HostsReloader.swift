// SIGHUP: the proxy re-reads its hosts file and rebuilds its ring.
//
// Nodes still listed keep their pools and health; new ones start as unknown (pinged at once);
// removed ones have their connections closed (requests in flight on them fail over). A file
// that does not parse, lists fewer nodes than --replicas, or does not end with a newline (it may
// be half-written), is refused and the old ring stays.
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

    /// ProxyServer hands it the cluster it replaces and the sentinel it tells.
    init(loop: EventLoop, options: ProxyOptions, flusher: OutputFlusher, cluster: ProxyCluster, sentinel: Sentinel) {
        self.loop = loop
        self.options = options
        self.flusher = flusher
        self.cluster = cluster
        self.sentinel = sentinel
    }

    func reload() {
        let listed: [HostPort]
        do {
            listed = try HostsFile.parseComplete(try FileSystem.readTextFile(options.hostsPath), source: options.hostsPath)
            if let problem = ClusterLimits.problem(nodes: listed.count, replicas: options.replicas, vnodes: options.vnodes,
                                                   source: options.hostsPath) {
                throw CommandLineError(problem)
            }
        } catch {
            return Log.error("SIGHUP: keeping the current ring: \(error)")
        }
        let current = cluster.nodes
        let clients = Self.clients(for: listed, reusing: current, loop: loop, options: options, flusher: flusher)
        let removed = current.filter { old in !clients.contains { $0 === old } }
        let added = clients.filter { new in !current.contains { $0 === new } }
        cluster.replace(ring: HashRing(nodes: listed, vnodesPerNode: options.vnodes, replicas: options.replicas), nodes: clients)
        sentinel.adopt(clients)
        for node in removed { node.closeAll() }
        Log.info("SIGHUP: \(options.hostsPath) re-read: \(clients.count) nodes, \(added.count) added, \(removed.count) removed"
                 + (added.isEmpty && removed.isEmpty ? "" : "; data does not move between nodes (docs/OPERATIONS.md)"))
        sentinel.logTable()
    }

    /// A client per listed node, in file order: the existing one for an address still listed.
    static func clients(for listed: [HostPort], reusing existing: [NodeClient], loop: EventLoop, options: ProxyOptions,
                        flusher: OutputFlusher) -> [NodeClient] {
        listed.enumerated().map { index, address in
            if let kept = existing.first(where: { $0.address == address }) {
                kept.index = index
                return kept
            }
            return NodeClient(address: address, index: index, loop: loop, options: options, flusher: flusher)
        }
    }
}
