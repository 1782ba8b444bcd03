// Which shared key ranges a repair turn pages: those whose digests differ in two compares
// `Limits.repairConfirmDelayMs` apart, not in one.
//
//   compare 1: differing D1 ── none ─▶ done
//                └── some ─▶ wait, compare again: differing D2 ─▶ page D1 ∩ D2 (maybe none)
//
// Under a write load a range whose write is in flight (stored on one replica, not yet on the
// other: a few milliseconds) differs at the instant of a compare without anything to repair.
// At 1M keys on this machine one such range cost 4–6 key pages, each walking a large stretch
// of the peer's index on its loop; every 2 s round paged 1–3 of them per peer, 0 records
// pulled, and the first rounds after a move made the foreground's worst second
// (docs/BENCHMARKS.md §6).
// A write that one replica missed differs at both compares and is paged as before: the repair
// comes one delay later.

package struct DifferingRanges {
    /// The ranges that differed at the first compare, until the second.
    private var unconfirmed: [Int]?

    package init() {}

    package enum Step: Equatable {
        /// Nothing differs: the turn is over.
        case done
        /// Compare again after `Limits.repairConfirmDelayMs`.
        case compareAgain
        /// Page these ranges (empty: what differed has settled).
        case page([Int])
    }

    /// The next step after a compare that found `differing` (shared ranges whose digests differ).
    package mutating func compared(_ differing: [Int]) -> Step {
        guard let first = unconfirmed else {
            if differing.isEmpty { return .done }
            unconfirmed = differing
            return .compareAgain
        }
        unconfirmed = nil
        let earlier = Set(first)
        return .page(differing.filter { earlier.contains($0) })
    }

    /// Forgets a first compare (the turn ended, or starts over).
    package mutating func reset() {
        unconfirmed = nil
    }
}
