// The start-up check of the hosts file's names, both executables' (before they listen):
//
//   watch every name (lookups start, off the loop) ─▶ run the loop until each answered or
//   failed, or Limits.hostsNamesWaitMs passed ─▶ two lines connecting to one address?
//   throw, naming both lines (the process exits 1 with the message) : go on
//
// A file of numeric addresses costs nothing here (no lookup, the loop does not run). A name
// still silent after the wait does not stop the start: the node behind it is down until it
// resolves, and its alias check comes when it answers (docs/DECISIONS.md "Names in the hosts
// file").

import LinkRingCore
import LinkRingUV

package enum HostsStartupCheck {
    /// Resolves the names of `entries` (waiting a bounded time) and throws a CommandLineError
    /// naming both lines when two entries connect to one address.
    package static func run(_ entries: [HostsEntry], source: String, loop: EventLoop, resolver: NameResolver) throws {
        let addresses = entries.map(\.address)
        resolver.watch(addresses)
        var isAnswered = false
        var isLoopRunning = false
        resolver.whenAnswered(addresses, withinMs: Limits.hostsNamesWaitMs) {
            isAnswered = true
            // Only a running loop may be stopped: a stop asked before `run` would end the next run at once.
            if isLoopRunning { loop.stop() }
        }
        if !isAnswered {
            isLoopRunning = true
            loop.run()
        }
        if let alias = HostsAliases.byAddress(addresses.map { resolver.knownAddress(of: $0) }).first {
            throw CommandLineError(HostsAliases.message(alias, entries: entries, source: source)
                                   + ": list each node once (docs/OPERATIONS.md)")
        }
    }
}
