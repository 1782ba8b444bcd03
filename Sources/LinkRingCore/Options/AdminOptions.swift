// Where a process serves its operator routes (OperatorAccess.swift), the two options both
// executables take:
//
//   (neither)                    the public port answers them to connections from this host only
//   --admin-listen HOST:PORT     a second listener answers them (and nothing else); the public
//                                port answers them to nobody
//   --admin-on-public            the public port answers them to everyone (as before 2026-11);
//                                with --admin-listen, both do
//
// The default needs no second port, so several processes on one host cannot collide on one,
// and every script and check run on the host keeps working (docs/DECISIONS.md). An admin
// address that is the public address, overlaps it (a wildcard host on the same port), or is
// exactly a node's address in the hosts file is refused at start-up: one of two listeners
// could never bind, and a tired operator should read why before anything starts.

package struct AdminOptions: Sendable, Equatable {
    /// The admin listener's address (--admin-listen); nil: no second listener.
    package var listen: HostPort? = nil
    /// --admin-on-public: the public port answers the operator routes to everyone.
    package var isOnPublic = false

    package init(listen: HostPort? = nil, isOnPublic: Bool = false) {
        self.listen = listen
        self.isOnPublic = isOnPublic
    }

    /// Who may read the operator routes on the public port.
    package var publicAccess: OperatorAccess {
        if isOnPublic { return .everyone }
        return listen == nil ? .thisHostOnly : .adminListenerOnly
    }

    /// Where the operator routes are served and to whom, for the start-up log line.
    package func describe(adminAddress: String?) -> String {
        switch (adminAddress, isOnPublic) {
        case (let admin?, false): "on the admin address \(admin) only (--admin-listen)"
        case (let admin?, true): "on the admin address \(admin) (--admin-listen), and on the public port to everyone (--admin-on-public)"
        case (nil, true): "on the public port to everyone (--admin-on-public)"
        case (nil, false): "on the public port to connections from this host only (--admin-listen HOST:PORT serves them elsewhere)"
        }
    }

    /// The two options, with the executable's own words for its operator routes.
    static func specs(routes: String) -> [OptionSpec] {
        [.value("admin-listen", "HOST:PORT", "serve \(routes) on this address, and no longer on the public port "
                    + "(default: on the public port, to connections from this host only)"),
         .flag("admin-on-public", "answer \(routes) on the public port to everyone too")]
    }

    /// Reads both options. `publicAddress` is --listen; `nodes` are the hosts file's entries.
    package static func parse(_ parsed: ParsedOptions, publicAddress: HostPort, nodes: [HostPort], hostsPath: String?) throws -> AdminOptions {
        var options = AdminOptions(isOnPublic: parsed.has("admin-on-public"))
        guard let text = parsed.string("admin-listen") else { return options }
        let admin: HostPort
        do {
            admin = try HostPort(parsing: text)
        } catch {
            throw CommandLineError("--admin-listen: \(error)")
        }
        if let problem = clash(admin, publicAddress: publicAddress, nodes: nodes, hostsPath: hostsPath) {
            throw CommandLineError(problem)
        }
        options.listen = admin
        return options
    }

    /// Why `admin` cannot be the admin address, or nil.
    static func clash(_ admin: HostPort, publicAddress: HostPort, nodes: [HostPort], hostsPath: String?) -> String? {
        if overlaps(admin, publicAddress) {
            let same = admin == publicAddress ? "is the --listen address" : "overlaps the --listen address \(publicAddress)"
            return "--admin-listen \(admin) \(same): the admin address needs a port of its own"
        }
        // Exactly, not by overlap: a wildcard admin host does not clash with a node on another host.
        if nodes.contains(admin) {
            return "--admin-listen \(admin) is a node's address in \(hostsPath ?? "the hosts file"): "
                + "the admin address needs a port no node listens on"
        }
        return nil
    }

    /// Two listen addresses that cannot both be bound: the same port (not 0, which picks a free
    /// one) on the same host, or with either host a wildcard (which binds every address).
    static func overlaps(_ first: HostPort, _ second: HostPort) -> Bool {
        guard first.port == second.port, first.port != 0 else { return false }
        return first.host == second.host || isWildcard(first.host) || isWildcard(second.host)
    }

    private static func isWildcard(_ host: String) -> Bool { host == "0.0.0.0" || host == "::" }
}
