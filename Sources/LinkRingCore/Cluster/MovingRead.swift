// A read while data moves (Placement.swift): every replica of every membership is asked, and
// the newest answer wins (VersionOrder: a value or a tombstone, by version), so a key is found
// wherever it is and a replica that has not caught up never answers alone. A 404 carries the
// version of the tombstone it found (0: never written), so a newer delete beats an older value
// still held by a replica that lost the range.
//
// A replica that fails (no answer by --node-timeout-ms, a refused connection, a 5xx, a 421) or
// could not be asked (down) is not waited for, but a "missing" decision without it is not
// trusted: the proxy asks every replica once more before it answers 404; a replica that is only late is (the proxy does not give
// up on it: without its answer, one that has not caught up could answer alone). When none
// answered, there is no decision: the proxy answers 503. Nor is "never written" trusted from
// new replicas alone: when no replica that held the key before the change (`holders`) answered
// and none that did answer ever saw the key, a new one may simply not have received it yet (its
// holders down, their handoff not there): `isUnheardAbsence`, answered 503, not 404.

package struct MovingRead: Sendable {
    private var settled: [Bool]
    private var best: (version: UInt64, value: [UInt8]?, isRecovering: Bool)?
    /// Replicas that failed or could not be asked: a "missing" decision without them may be a
    /// replica that has not caught up speaking alone (the proxy asks once more).
    package private(set) var failures = 0
    /// Positions of replicas that held the key before the change (replicas in an older membership).
    private let holders: Set<Int>
    private var heardFromHolder = false

    package init(asking replicas: Int, holders: Set<Int> = []) {
        settled = [Bool](repeating: false, count: replicas)
        self.holders = holders
    }

    /// Every replica answered, failed, could not be asked or is late.
    package var isDone: Bool { settled.allSatisfy { $0 } }

    /// A replica that could not be asked, or failed: not waited for.
    package mutating func giveUp(_ position: Int) {
        guard !settled[position] else { return }
        settled[position] = true
        failures += 1
    }

    /// A replica's answer: its status, the X-Version it carried, its body.
    package mutating func answered(_ position: Int, status: Int, version: UInt64?, body: [UInt8], isRecovering: Bool) {
        guard !settled[position] else { return }
        settled[position] = true
        let value: [UInt8]?
        switch status {
        case 200: value = body
        case 404: value = nil
        default:
            failures += 1
            return
        }
        if holders.contains(position) { heardFromHolder = true }
        let version = version ?? 0
        if let best, !VersionOrder.isNewer(version, value, than: best.version, best.value) { return }
        best = (version, value, isRecovering)
    }

    /// Only replicas new to the key answered, and none of them ever saw it: no 404 to trust.
    package var isUnheardAbsence: Bool {
        guard let best, !holders.isEmpty else { return false }
        return best.value == nil && best.version == 0 && !heardFromHolder
    }

    /// The version of the newest answer (0: a 404 that never saw the key), nil when none answered.
    package var newestVersion: UInt64? { best?.version }

    /// The newest answer, nil when no replica answered.
    package var decision: ReadReply? {
        guard let best else { return nil }
        guard let value = best.value else { return .missing(isRecovering: best.isRecovering) }
        return .found(location: value, isRecovering: best.isRecovering)
    }
}
