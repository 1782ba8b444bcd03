// The proxy's decision after a DELETE's first, conditional ask (issue 19, finding 5): only when
// every replica of the key was asked and each answered "absent" is nothing written anywhere;
// every other outcome — a replica down or not sent the request, a live value, a newer value, a
// failure, a refusal (an older node that does not know `if=live`), a clock refusal — sends the
// tombstone to every usable replica, as every DELETE did before.

import Testing
@testable import LinkRingCore

@Suite("DeleteProbe: a tombstone only where a value may hide")
struct DeleteProbeTests {
    static let absent = WriteReply.acknowledged(existed: false)
    static let existed = WriteReply.acknowledged(existed: true)

    /// The decision after `replies` from the replicas sent the request, of `replicaCount`.
    func decide(replicaCount: Int, sentTo sent: Int, couldNotSend unsent: Int = 0, _ replies: [WriteReply]) -> DeleteProbeDecision {
        var probe = DeleteProbe(replicaCount: replicaCount, asking: sent + unsent)
        for _ in 0..<unsent { probe.couldNotSend() }
        for reply in replies {
            #expect(!probe.isDone, "done before every replica answered")
            probe.note(reply)
        }
        #expect(probe.isDone)
        #expect(probe.asked == sent)
        return probe.decision
    }

    @Test("every replica asked and every one absent: nothing to delete", arguments: [1, 2, 3, 5])
    func allAbsent(replicaCount: Int) {
        #expect(decide(replicaCount: replicaCount, sentTo: replicaCount, Array(repeating: Self.absent, count: replicaCount))
            == .nothingToDelete)
    }

    @Test("a replica that is down (not sent the request) may hold a value the others never saw: tombstone on the rest")
    func replicaDown() {
        #expect(decide(replicaCount: 2, sentTo: 1, [Self.absent]) == .tombstoneEverywhere(deletedOn: 0))
        #expect(decide(replicaCount: 3, sentTo: 2, [Self.absent, Self.absent]) == .tombstoneEverywhere(deletedOn: 0))
    }

    @Test("a replica whose queue was full counts as not asked")
    func couldNotSend() {
        #expect(decide(replicaCount: 2, sentTo: 1, couldNotSend: 1, [Self.absent]) == .tombstoneEverywhere(deletedOn: 0))
        #expect(decide(replicaCount: 2, sentTo: 0, couldNotSend: 2, []) == .tombstoneEverywhere(deletedOn: 0))
    }

    @Test("a live value on any replica: the tombstone goes everywhere, and each replica that deleted one counts as an acknowledgement")
    func liveValue() {
        #expect(decide(replicaCount: 2, sentTo: 2, [Self.absent, Self.existed]) == .tombstoneEverywhere(deletedOn: 1))
        #expect(decide(replicaCount: 2, sentTo: 2, [Self.existed, Self.existed]) == .tombstoneEverywhere(deletedOn: 2))
        #expect(decide(replicaCount: 3, sentTo: 1, [Self.existed]) == .tombstoneEverywhere(deletedOn: 1))
        #expect(decide(replicaCount: 3, sentTo: 3, [Self.existed, .failed, Self.absent]) == .tombstoneEverywhere(deletedOn: 1))
    }

    @Test("any answer but absent or existed sends the tombstone everywhere (the unconditional write then re-mints, retries or fails loudly)",
          arguments: [WriteReply.newer(version: 99), .failed, .refusedInput, .refusedAhead(reason: "ahead")])
    func otherAnswers(reply: WriteReply) {
        #expect(decide(replicaCount: 2, sentTo: 2, [Self.absent, reply]) == .tombstoneEverywhere(deletedOn: 0))
        #expect(decide(replicaCount: 2, sentTo: 2, [reply, Self.absent]) == .tombstoneEverywhere(deletedOn: 0))
    }
}
