// The proxy's first ask of a DELETE, and what it decides from the answers (issue 19, finding 5:
// DELETEs of keys nobody held left a tombstone on every replica for ever).
//
//   DELETE /S ─▶ DELETE /_/kv?v=V&if=live&short=S to every usable replica of S
//        ├─ every replica of S asked, each answered "absent" ─▶ 404; nothing was written anywhere
//        └─ anything else: a replica down or not asked, a live value held ("existed"), a newer
//           value (409), a failure, a refusal (an older node that does not know `if=live`
//           answers 400) ─▶ the unconditional DELETE of today on every usable replica
//
// Why "every replica, all absent" is the only case that may skip the tombstone: a replica that
// could not be asked may hold a value that the others never saw (a PUT acknowledged while they
// were down); without a tombstone on the replicas that answered, repair would bring that value
// back after a DELETE that was answered. A replica that answered "absent" holds no live value
// and wrote nothing, and a key no replica holds has nothing a tombstone must cover, so the
// answer is the same 404 and the cluster is exactly as before. Pure: the proxy feeds it
// `WriteReply`s and asks `decision` once every asked replica answered.

/// What the proxy does after the conditional DELETE's answers.
package enum DeleteProbeDecision: Sendable, Equatable {
    /// Every replica of the key holds no live value, and none wrote anything: answer 404.
    case nothingToDelete
    /// Send the tombstone to every usable replica unconditionally. `deletedOn`: how many
    /// replicas held a live value and already made this tombstone durable (each an
    /// acknowledgement of the DELETE, and the reason it answers 200, not 404).
    case tombstoneEverywhere(deletedOn: Int)
}

/// The answers to one conditional DELETE, against the number of replicas the key has.
package struct DeleteProbe: Sendable, Equatable {
    /// How many replicas the key has in the ring (asked or not).
    package let replicaCount: Int
    /// How many of them were sent the DELETE (the others were down, or their queue was full).
    package private(set) var asked: Int
    private var waiting: Int
    private var absent = 0
    private var deleted = 0

    /// `asking`: the replicas the DELETE is about to be sent to.
    package init(replicaCount: Int, asking: Int) {
        self.replicaCount = replicaCount
        asked = asking
        waiting = asking
    }

    /// A replica it was meant for could not be sent it: it counts as not asked.
    package mutating func couldNotSend() {
        asked -= 1
        waiting -= 1
    }

    /// The answer of a replica that was sent it.
    package mutating func note(_ reply: WriteReply) {
        waiting -= 1
        guard case .acknowledged(let hadValue) = reply else { return }
        if hadValue { deleted += 1 } else { absent += 1 }
    }

    /// Every replica that was sent the DELETE answered.
    package var isDone: Bool { waiting == 0 }

    package var decision: DeleteProbeDecision {
        assert(isDone, "decided before every asked replica answered")
        if asked == replicaCount && absent == replicaCount { return .nothingToDelete }
        return .tombstoneEverywhere(deletedOn: deleted)
    }
}
