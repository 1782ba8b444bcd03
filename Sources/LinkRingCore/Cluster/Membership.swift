// A cluster's membership: the nodes of the hosts file and the file's generation.
//
// The hosts file is the membership (the original's contract). Changing it means writing a new
// file with a higher `generation N` line on every host and sending SIGHUP to every process, in
// any order (scripts/addNode.bash and friends do exactly that). The generation orders two
// files without a coordinator: a process that meets a newer generation (in a request header,
// a ping answer, a 421) re-reads its own file; one that meets an older one tells the sender
// (a node answers 421). Two files with one generation and different nodes are an operator's
// mistake (a file edited on one host only, or edited without raising the number): refused,
// naming both, and the process keeps what it has.
//
// While data moves, a process keeps the memberships it moves from (`MovingMemberships`): the
// proxy writes to the replicas of every one of them and reads the newest answer of all, a node
// hands each key it holds to the key's new replicas (HandoffRule), until every node reports
// that its handoff for the newest generation is done.

package struct Membership: Sendable, Equatable {
    package var generation: UInt64
    package var entries: [HostsEntry]

    package init(generation: UInt64, entries: [HostsEntry]) {
        self.generation = generation
        self.entries = entries
    }

    package var nodes: [HostPort] { entries.map(\.address) }

    /// The same nodes, in the same order (the ring depends on the order only through ties).
    package func hasSameNodes(as other: Membership) -> Bool { nodes == other.nodes }

    /// How `incoming` relates to this membership.
    package func compare(_ incoming: Membership) -> MembershipChange {
        if incoming.generation > generation { return .newer }
        if incoming.generation < generation { return .older }
        return hasSameNodes(as: incoming) ? .same : .conflicting
    }

    /// `host:port` of every node, one line each, after `generation N`: the hosts file a
    /// membership would be written as.
    package var hostsText: String {
        "\(HostsFile.generationKeyword) \(generation)\n" + nodes.map { "\($0)\n" }.joined()
    }

    package var summary: String {
        "generation \(generation) (\(entries.count) nodes: \(nodes.map(\.description).joined(separator: " ")))"
    }
}

package enum MembershipChange: Sendable, Equatable {
    case newer, same, older
    /// Same generation, other nodes.
    case conflicting

    /// The sentence for a refused file whose generation is not above `current`'s.
    package static func refusal(_ change: MembershipChange, current: Membership, incoming: Membership, source: String) -> String? {
        switch change {
        case .newer, .same: return nil
        case .older:
            return "\(source) is generation \(incoming.generation), older than this process's \(current.generation): "
                + "keeping generation \(current.generation) (copy the newest hosts file to this host, then SIGHUP)"
        case .conflicting:
            return "\(source) lists other nodes than this process's membership under the same generation \(current.generation): "
                + "keeping it. Raise the 'generation N' line whenever the node list changes (scripts/addNode.bash does), "
                + "and give every host the same file"
        }
    }
}

/// The memberships a process moves from, newest first, and the one it moves to.
package struct MovingMemberships: Sendable, Equatable {
    package private(set) var current: Membership
    /// Older memberships whose data may not have reached `current`'s replicas yet, newest first.
    package private(set) var previous: [Membership]

    package init(current: Membership, previous: [Membership] = []) {
        self.current = current
        self.previous = previous
    }

    package var isMoving: Bool { !previous.isEmpty }

    /// Moves to `newer`; the membership left behind joins the ones still moving (the oldest
    /// beyond `Limits.membershipsMovingMax` are dropped: their handoffs are older still).
    package mutating func move(to newer: Membership) {
        previous.insert(current, at: 0)
        if previous.count > Limits.membershipsMovingMax { previous.removeLast(previous.count - Limits.membershipsMovingMax) }
        current = newer
    }

    /// The move is complete: only `current` remains.
    package mutating func finishMove() {
        previous.removeAll()
    }

    /// Every node of every membership, `current`'s first (in file order), then the nodes only
    /// older ones list: the union a proxy keeps clients for.
    package var allNodes: [HostPort] {
        var nodes = current.nodes
        for membership in previous {
            for node in membership.nodes where !nodes.contains(node) { nodes.append(node) }
        }
        return nodes
    }

    // The state file a node keeps (DIR/membership): the hosts text of `current`, then, per
    // membership still moving, a line `moving-from` and its hosts text.
    static let movingFromKeyword = "moving-from"

    package var stateText: String {
        "# written by linkring-node: the membership it serves and those it still hands data off from\n"
            + current.hostsText + previous.map { "\(Self.movingFromKeyword)\n" + $0.hostsText }.joined()
    }

    package static func parseState(_ text: String, source: String) throws -> MovingMemberships {
        var sections: [String] = [""]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == movingFromKeyword { sections.append("") } else { sections[sections.count - 1] += line + "\n" }
        }
        let memberships = try sections.map { try HostsFile.membership($0, source: source) }
        return MovingMemberships(current: memberships[0], previous: Array(memberships.dropFirst()))
    }
}

/// The memberships a node still moves from, as its /_/health says them in one string
/// (`"movingFrom"`): `G host:port host:port…`, one per membership, newest first, split by `;`.
/// A proxy started while data moves learns from it where keys may still be.
package enum MembershipReport {
    package static func encodePrevious(_ memberships: [Membership]) -> String {
        memberships.map { ([String($0.generation)] + $0.nodes.map(\.description)).joined(separator: " ") }.joined(separator: ";")
    }

    /// Nil when the text is not such a list.
    package static func decodePrevious(_ text: String) -> [Membership]? {
        guard !text.isEmpty else { return [] }
        var memberships: [Membership] = []
        for part in text.split(separator: ";") {
            let words = part.split(separator: " ")
            guard let first = words.first, let generation = UInt64(first), words.count > 1 else { return nil }
            var entries: [HostsEntry] = []
            for (position, word) in words.dropFirst().enumerated() {
                guard let address = try? HostPort(parsing: String(word)) else { return nil }
                entries.append(HostsEntry(address: address, line: position + 1))
            }
            memberships.append(Membership(generation: generation, entries: entries))
        }
        return memberships
    }
}
