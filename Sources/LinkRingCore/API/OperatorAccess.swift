// Who may read the operator routes on a listener: the routes that show the cluster's insides
// (the proxy's /_/status, /_/status?key= and /_/metrics, which name the internal address of
// every node and which nodes hold which key; a node's full /_/health with its counters).
// docs/DECISIONS.md, "Operator routes are served to this host only".
//
//   listener                                   OperatorAccess      a request from elsewhere
//   --admin-listen HOST:PORT (its own socket)   everyone            (only those who reach it)
//   public port, by default                     thisHostOnly        403 (proxy), short health (node)
//   public port, with --admin-listen            adminListenerOnly   403 (proxy), short health (node)
//   public port, with --admin-on-public         everyone            answered
//
// "This host" is a loopback peer (127.0.0.0/8, ::1, or either as an IPv4-mapped IPv6 address),
// or a peer whose address is the very address the connection arrived on: a client on this
// machine that connects to one of its own addresses comes from that address. Linux drops a
// packet that arrives from outside with a loopback or local source address (martian source),
// so neither can be forged by a remote client. A request that names a client behind it
// (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`) came through a reverse proxy, whose own peer
// address says nothing about the client: it is not from this host, whatever its peer.

package enum OperatorAccess: Sendable, Equatable {
    /// Everyone who reaches the listener (the admin listener; the public port with --admin-on-public).
    case everyone
    /// Connections from this host only (the public port by default).
    case thisHostOnly
    /// Nobody: the operator routes are on the admin listener (the public port with --admin-listen).
    case adminListenerOnly

    /// Nil when the request may read the operator routes, else the 403 to answer. `isFromThisHost`
    /// is asked only when the rule needs it (it costs two system calls, once per connection).
    package func refusal(isForwarded: Bool, isFromThisHost: () -> Bool) -> HTTPParseFailure? {
        switch self {
        case .everyone: return nil
        case .adminListenerOnly: return Self.onAdminListenerOnly
        case .thisHostOnly:
            if isForwarded { return Self.forwarded }
            return isFromThisHost() ? nil : Self.fromElsewhere
        }
    }

    static let onAdminListenerOnly = HTTPParseFailure(.forbidden,
        "The operator routes are served on this process's admin address (its --admin-listen option), not on this port.")
    static let fromElsewhere = HTTPParseFailure(.forbidden,
        "The operator routes answer on this port only to connections from this host. To read them from elsewhere, "
        + "the operator serves them on an admin address (--admin-listen HOST:PORT) or on this port to everyone (--admin-on-public).")
    static let forwarded = HTTPParseFailure(.forbidden,
        "The operator routes answer on this port only to connections from this host, and this request came through a "
        + "proxy (it has Forwarded, X-Forwarded-For or X-Real-IP). Behind a reverse proxy, serve them on an admin address "
        + "(--admin-listen HOST:PORT).")
}

/// Where a connection comes from, told by its two numeric addresses (as the UV layer prints them).
package enum PeerLocality {
    /// True for a loopback peer, and for a peer on the address the connection arrived on.
    package static func isThisHost(peer: String, local: String) -> Bool {
        isLoopback(peer) || unmapped(peer) == unmapped(local)
    }

    /// 127.0.0.0/8, ::1, and both written as IPv4-mapped IPv6 (::ffff:127.0.0.1).
    static func isLoopback(_ address: String) -> Bool {
        let address = unmapped(address)
        return address == "::1" || address.hasPrefix("127.")
    }

    /// `::ffff:a.b.c.d` (an IPv4 peer of a dual-stack socket) as `a.b.c.d`.
    private static func unmapped(_ address: String) -> Substring {
        let prefix = "::ffff:"
        let lowered = address.lowercased()
        guard lowered.hasPrefix(prefix), lowered.contains(".") else { return Substring(lowered) }
        return lowered.dropFirst(prefix.count)
    }
}
