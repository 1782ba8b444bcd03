// The routes peers use to repair each other (bodies in SyncCodec, docs/PROTOCOL.md):
//
//   GET  /_/digests           one digest per key range: comparing costs O(ranges), not O(keys);
//                             503 "busy: …" while handoff batches arrive (a repair turn then
//                             waits: the handoff fills the ranges it would page through)
//   GET  /_/keys?r=R&from=F   a page of (key, version) of range R in table order, from the keys whose
//                             table order's top 32 bits are F (KeyValueIndex.tableOrder, random per process; a cursor that stays valid while writes go on)
//   POST /_/records           the records of the keys in the body, as log records (with CRC)
//   POST /_/handoff           log records a peer hands to this node after a membership change
//                             (Handoff.swift): each stored unless a newer version is held;
//                             200 once all are durable
//
// Every answer is bounded: a page has at most `Limits.repairKeysPerPage` keys, a records request
// at most `Limits.repairRecordsPerRequest` keys, so no request holds the loop for long.

import LinkRingCore
import LinkRingServer
import LinkRingUV

extension NodeService {
    private static let digestsPath: [UInt8] = Array("digests".utf8)
    private static let keysPath: [UInt8] = Array("keys".utf8)
    private static let recordsPath: [UInt8] = Array("records".utf8)
    private static let handoffPath: [UInt8] = Array("handoff".utf8)
    private static let binary: [UInt8] = Array("application/octet-stream".utf8)
    /// The body of a digests request refused while handoff batches arrive (PeerSync.isBusy).
    static let busyAnswer: [UInt8] = Array("busy: receiving a handoff; repair later\n".utf8)
    /// The same while the index is re-partitioned for a new membership (the same "busy:" start).
    static let partitioningAnswer: [UInt8] = Array("busy: re-partitioning its index for a new membership; repair later\n".utf8)

    func routeRepair(_ head: HTTPRequestHead, _ buffer: [UInt8], path: Range<Int>, query: Range<Int>?, body: Range<Int>,
                     on connection: HTTPConnection) {
        let isDigests = ASCII.equals(buffer, path, Self.digestsPath)
        let isKeys = ASCII.equals(buffer, path, Self.keysPath)
        let isRecords = ASCII.equals(buffer, path, Self.recordsPath)
        if ASCII.equals(buffer, path, Self.handoffPath) {
            guard head.method == .post else { return connection.respondMethodNotAllowed(allow: "POST") }
            return storeHandoff(buffer, body, on: connection)
        }
        guard isDigests || isKeys || isRecords else {
            return connection.respondFailure(HTTPParseFailure(.notFound, "No such internal route."))
        }
        guard let ring = store.index.ring else {
            return connection.respondFailure(HTTPParseFailure(.notFound, "This node has no ring (start it with --hosts)."))
        }
        if isRecords {
            guard head.method == .post else { return connection.respondMethodNotAllowed(allow: "POST") }
            return answerRecords(buffer, body, on: connection)
        }
        guard head.method == .get else { return connection.respondMethodNotAllowed(allow: "GET") }
        if store.isPartitioning {
            // Digests and pages are still the old ring's: a turn waits, as for a busy peer.
            return connection.respond(.serviceUnavailable, body: Self.partitioningAnswer)
        }
        if isDigests, store.isReceivingHandoff(nowMs: MonotonicClock.nowMs()) {
            // Its ranges are filling: every one would differ and be paged in full, each round.
            return connection.respond(.serviceUnavailable, body: Self.busyAnswer)
        }
        if isDigests {
            return connection.respond(.ok, contentType: Self.binary,
                                      body: SyncCodec.encodeDigests(ringID: SyncCodec.ringID(ring), store.index.digests))
        }
        answerKeys(buffer, query, rangeCount: ring.rangeCount, on: connection)
    }

    private func answerKeys(_ buffer: [UInt8], _ query: Range<Int>?, rangeCount: Int, on connection: HTTPConnection) {
        guard let numbers = QueryNumbers.parse(buffer, query, names: ["r", "from"]), numbers[0] < UInt64(rangeCount) else {
            return connection.respondFailure(HTTPParseFailure(.badRequest, "The query must be r=RANGE&from=OFFSET."))
        }
        let found = store.index.page(range: Int(numbers[0]), from: UInt32(truncatingIfNeeded: numbers[1]), limit: Limits.repairKeysPerPage)
        let page = found.entries.map { SyncCodec.KeyVersion(key: $0.key, $0.stored) }
        let next = found.next ?? SyncCodec.endOfRange
        connection.respond(.ok, contentType: Self.binary, body: SyncCodec.encodeKeysPage(next: next, page))
    }

    private func answerRecords(_ buffer: [UInt8], _ body: Range<Int>, on connection: HTTPConnection) {
        guard let keys = SyncCodec.decodeKeys(buffer, body), keys.count <= Limits.repairRecordsPerRequest else {
            return connection.respondFailure(HTTPParseFailure(.badRequest,
                "The body must be at most \(Limits.repairRecordsPerRequest) keys, each a u16 length and the key."))
        }
        var records: [UInt8] = []
        let index = store.index
        for key in keys { _ = index.appendRecord(for: key, to: &records) }
        connection.respond(.ok, contentType: Self.binary, body: records)
    }

    /// Stores the records of a handoff batch; 200 once every one is durable (or superseded).
    private func storeHandoff(_ buffer: [UInt8], _ body: Range<Int>, on connection: HTTPConnection) {
        guard let records = SyncCodec.decodeRecords(Array(buffer[body])), records.allSatisfy({ $0.op != .forget }) else {
            return connection.respondFailure(HTTPParseFailure(.badRequest, "The body must be log records (PUT or DELETE), each with its CRC."))
        }
        guard store.acceptsWrites else {
            return connection.respond(.serviceUnavailable, body: Pages.unavailable(
                operation: "POST", detail: "this node's log has failed; it serves reads only."))
        }
        let answer = connection.deferResponse(concurrent: true)
        store.lastHandoffReceivedMs = MonotonicClock.nowMs()
        store.storeFromPeer(records, source: "a handoff") { stored, allDurable in
            guard allDurable else {
                return answer.respond(.serviceUnavailable, body: Pages.unavailable(operation: "POST", detail: "the node could not write its log."))
            }
            answer.respond(.ok, contentType: WriteAnswer.contentType, body: Array("stored \(stored)\n".utf8))
        }
    }
}
