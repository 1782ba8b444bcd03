// A first-in, first-out queue over an array with a head index: O(1) append and removal from
// the front, no per-element allocation, and the storage reused once the queue runs empty (or
// compacted once the consumed prefix is past `compactAfter` and at least as long as the live
// part, so a queue that never empties cannot grow without bound, and a compaction's copy is
// paid for by as many removals: O(1) amortised however long the queue). The proxy's wait queue per node, a node connection's requests in
// flight and an HTTP connection's answer slots are all this one type.
//
//   [ consumed … | head ─▶ live elements … ]      count = storage.count - head
//
// `@inlinable` and `public`: it sits on the hot paths of other modules, where a generic call
// that is not specialised costs more than the work it does (a metadata lookup per call). This
// toolchain (Swift 6.3) neither inlines nor specialises an `@inlinable package` declaration in
// another module, only a `public` one (docs/DECISIONS.md, "Access").

public struct FIFOQueue<Element> {
    @usableFromInline var storage: [Element] = []
    @usableFromInline var head = 0
    /// Consumed elements kept before the storage is compacted.
    @usableFromInline static var compactAfter: Int { 1_024 }

    @inlinable public init() {}

    @inlinable public var count: Int { storage.count - head }
    @inlinable public var isEmpty: Bool { head == storage.count }
    /// The oldest element, if any.
    @inlinable public var first: Element? { head < storage.count ? storage[head] : nil }

    @inlinable public mutating func append(_ element: Element) {
        storage.append(element)
    }

    /// Removes and returns the oldest element.
    @inlinable @discardableResult
    public mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head > Self.compactAfter && head >= storage.count - head {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Removes every element; returns them, oldest first.
    @inlinable public mutating func removeAll() -> [Element] {
        let live = Array(storage[head...])
        storage.removeAll()
        head = 0
        return live
    }

    /// The live elements, oldest first (for a walk that does not remove them). A walk must not
    /// call out to code that may change this queue (close its connection, answer its requests):
    /// the optimized build walks the storage without retaining it, so a removal frees it under
    /// the walk (a proxy segfault, docs/DECISIONS.md "Slow and frozen nodes"). Collect, then act.
    @inlinable public var elements: ArraySlice<Element> { storage[head...] }
}
