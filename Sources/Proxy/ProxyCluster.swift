// The ring and the node clients the proxy routes by, in one object, so that whoever reads one
// sees the other from the same hosts file.
//
// ProxyServer owns it; the router (ProxyService) and the operator routes read it; on SIGHUP
// HostsReloader replaces both at once. `nodes` is indexed like `ring.nodes`. Requests in
// flight hold NodeClient references, never indices, so a reload cannot send their retries to
// the wrong node.

import LinkRingCore

final class ProxyCluster {
    private(set) var ring: HashRing
    private(set) var nodes: [NodeClient]

    init(ring: HashRing, nodes: [NodeClient]) {
        self.ring = ring
        self.nodes = nodes
    }

    /// Takes the ring and node clients of a re-read hosts file.
    func replace(ring: HashRing, nodes: [NodeClient]) {
        self.ring = ring
        self.nodes = nodes
    }
}
