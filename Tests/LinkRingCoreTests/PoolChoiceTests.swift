// The proxy's choice of connection for a node request: fill in order, open only when full.

import Testing
@testable import LinkRingCore

@Suite("Pool choice")
struct PoolChoiceTests {
    @Test func anEmptyPoolOpensAConnection() {
        #expect(PoolChoice.pick(pending: [], pipelineDepth: 64, poolSize: 4) == .open)
    }

    @Test func requestsFillTheFirstConnectionWithRoomEvenWhenAnotherIsIdle() {
        #expect(PoolChoice.pick(pending: [5, 0], pipelineDepth: 64, poolSize: 4) == .use(0))
        #expect(PoolChoice.pick(pending: [63, 0], pipelineDepth: 64, poolSize: 4) == .use(0))
        #expect(PoolChoice.pick(pending: [64, 7, 0], pipelineDepth: 64, poolSize: 4) == .use(1))
    }

    @Test func aNewConnectionOpensOnlyWhenEveryOpenOneIsFull() {
        #expect(PoolChoice.pick(pending: [64], pipelineDepth: 64, poolSize: 4) == .open)
        #expect(PoolChoice.pick(pending: [64, 64, 64], pipelineDepth: 64, poolSize: 4) == .open)
    }

    @Test func aFullPoolAtItsSizeQueues() {
        #expect(PoolChoice.pick(pending: [64, 64, 64, 64], pipelineDepth: 64, poolSize: 4) == .full)
        #expect(PoolChoice.pick(pending: [1], pipelineDepth: 1, poolSize: 1) == .full)
    }

    @Test func sixtyFourClientsOneRequestEachShareOneConnection() {
        var pending: [Int] = []
        for _ in 0..<64 {
            switch PoolChoice.pick(pending: pending, pipelineDepth: 64, poolSize: 4) {
            case .use(let position): pending[position] += 1
            case .open: pending.append(1)
            case .full: Issue.record("the pool refused a request with room left")
            }
        }
        #expect(pending == [64])
    }
}
