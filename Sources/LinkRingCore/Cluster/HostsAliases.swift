// Two lines of the hosts file that name one node (`127.0.0.1:25001` and `localhost:25001`):
// the ring would count the node twice, give some keys both "replicas" on it (one copy), and a
// node would take itself for its own peer. Entries are compared two ways, as facts arrive:
//
//   by address  the address each entry connects to (a numeric host as written, a name once it
//               answered) with its port: known at start-up for numeric entries and names that
//               answer within Limits.hostsNamesWaitMs, later for the others
//   by node id  the random id each node keeps in its data directory and reports in /_/health:
//               known once the node answers (catches two addresses of one host, 127.0.0.1 and
//               10.0.0.5, that no address comparison can)
//
// The later line of a pair is the alias; the message names both lines. What is done about it
// (refuse to start, keep the old ring, take the later entry as down) is the caller's.

/// Entry `later` names the same node as entry `earlier` (positions in the file's entries).
package struct NodeAlias: Sendable, Equatable {
    package var earlier: Int
    package var later: Int
    /// How it was found: "both connect to 127.0.0.1:25001", "both answer as node 1f…".
    package var evidence: String
}

package enum HostsAliases {
    /// Aliases among entries whose connect addresses are `addresses` (nil: not known yet).
    package static func byAddress(_ addresses: [HostPort?]) -> [NodeAlias] {
        firstRepeats(addresses).map { NodeAlias(earlier: $0.earlier, later: $0.later, evidence: "both connect to \($0.key)") }
    }

    /// Aliases among entries whose nodes reported the ids `nodeIDs` (nil: not known yet).
    package static func byNodeID(_ nodeIDs: [String?]) -> [NodeAlias] {
        firstRepeats(nodeIDs).map { NodeAlias(earlier: $0.earlier, later: $0.later, evidence: "both answer as node \($0.key)") }
    }

    /// "hosts.txt line 2 (127.0.0.1:25001) and line 3 (localhost:25001) are one node (both connect to 127.0.0.1:25001)"
    package static func message(_ alias: NodeAlias, entries: [HostsEntry], source: String) -> String {
        let earlier = entries[alias.earlier]
        let later = entries[alias.later]
        return "\(source) line \(earlier.line) (\(earlier.address)) and line \(later.line) (\(later.address)) are one node "
            + "(\(alias.evidence))"
    }

    /// Each position whose key equals an earlier position's, paired with the first such position.
    private static func firstRepeats<Key: Hashable>(_ keys: [Key?]) -> [(earlier: Int, later: Int, key: Key)] {
        var first: [Key: Int] = [:]
        var repeats: [(earlier: Int, later: Int, key: Key)] = []
        for (position, key) in keys.enumerated() {
            guard let key else { continue }
            if let earlier = first[key] {
                repeats.append((earlier, position, key))
            } else {
                first[key] = position
            }
        }
        return repeats
    }
}
