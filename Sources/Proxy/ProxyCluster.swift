// The placement and the node clients the proxy routes by, in one object, so that whoever reads
// one sees the other from the same hosts file.
//
// ProxyServer owns it; the router (ProxyService) and the operator routes read it; HostsReloader
// replaces them at once (SIGHUP, a newer generation met, a move finished). `nodes` is indexed
// like `placement.nodes`: the current membership's nodes first, then those only the
// memberships still moving list (Placement.swift). Requests in flight hold NodeClient
// references, never indices, so a reload cannot send their retries to the wrong node. The
// encoder of every /_/kv request carries the current generation (X-Generation).

import LinkRingCore

final class ProxyCluster {
    private(set) var placement: Placement
    private(set) var nodes: [NodeClient]
    private(set) var requests: InternalRequestEncoder
    private let clusterToken: [UInt8]?

    init(placement: Placement, nodes: [NodeClient], clusterToken: [UInt8]?) {
        self.placement = placement
        self.nodes = nodes
        self.clusterToken = clusterToken
        requests = Self.encoder(placement, clusterToken)
    }

    /// The current membership's ring.
    var ring: HashRing { placement.current }
    var generation: UInt64 { placement.generation }

    /// Takes the placement and node clients of a new membership (or of a finished move).
    func replace(placement: Placement, nodes: [NodeClient]) {
        self.placement = placement
        self.nodes = nodes
        requests = Self.encoder(placement, clusterToken)
    }


    private static func encoder(_ placement: Placement, _ clusterToken: [UInt8]?) -> InternalRequestEncoder {
        InternalRequestEncoder(host: InternalRequestEncoder.clusterHost, clusterToken: clusterToken, generation: placement.generation)
    }
}
