// The one FIFO queue: order, emptiness, reuse of storage, compaction of a queue that never
// empties, and draining.

import Testing
@testable import LinkRingCore

@Suite("FIFO queue")
struct FIFOQueueTests {
    @Test("elements leave in the order they came, interleaved with appends")
    func order() {
        var queue = FIFOQueue<Int>()
        #expect(queue.isEmpty && queue.first == nil && queue.popFirst() == nil)
        var expected = 0
        var next = 0
        for round in 0..<50 {
            for _ in 0..<(round % 7 + 1) {
                queue.append(next)
                next += 1
            }
            for _ in 0..<(round % 5) {
                guard let element = queue.popFirst() else { break }
                #expect(element == expected)
                expected += 1
            }
            #expect(queue.count == next - expected)
            #expect(queue.first == (queue.isEmpty ? nil : expected))
        }
        #expect(Array(queue.elements) == Array(expected..<next))
        #expect(queue.removeAll() == Array(expected..<next))
        #expect(queue.isEmpty && queue.count == 0)
    }

    @Test("a queue that never runs empty is compacted: its storage stays bounded")
    func compaction() {
        var queue = FIFOQueue<Int>()
        queue.append(0)
        for value in 1..<10_000 {
            queue.append(value)
            #expect(queue.popFirst() == value - 1)
        }
        #expect(queue.count == 1 && queue.first == 9_999)
        #expect(queue.storage.count <= FIFOQueue<Int>.compactAfter + 2, "storage \(queue.storage.count)")
    }

    @Test("a long queue is compacted only once its consumed prefix is as long as its live part")
    func amortisedCompaction() {
        var queue = FIFOQueue<Int>()
        for value in 0..<10_000 { queue.append(value) }
        let first = (0..<4_000).map { _ in queue.popFirst() }
        #expect(first == (0..<4_000).map { $0 })
        #expect(queue.storage.count == 10_000, "4,000 consumed of 10,000: no copy yet")
        let next = (4_000..<5_001).map { _ in queue.popFirst() }
        #expect(next == (4_000..<5_001).map { $0 })
        #expect(queue.storage.count == 5_000 && queue.first == 5_001, "compacted when consumed (5,000) reached live (5,000)")
    }
}
