// Handle lifecycles on a real loop (OwnedHandle): every handle's owner lives until libuv's close
// callback and is released there, the memory is freed, and the loop closes cleanly afterwards
// (`loop.close()` is true only when no handle is left: libuv's own leak check). Also what a
// closed handle does when used again (nothing), and that closing twice is harmless.

import Testing
@testable import LinkRingUV

/// Holds a weak reference, to see when an owner is released.
private final class WeakBox<T: AnyObject> {
    weak var value: T?
    init(_ value: T) { self.value = value }
}

@Suite("Handle lifecycles (one loop, no sockets to other processes)")
struct HandleLifecycleTests {
    @Test("a timer fires, repeats until closed, is released in its close callback, and the loop closes clean")
    func timerLifecycle() throws {
        let loop = try EventLoop()
        var fired = 0
        var weakTimer: WeakBox<Timer>?
        do {
            let timer = Timer(loop: loop)
            weakTimer = WeakBox(timer)
            timer.start(afterMs: 1, repeatMs: 1) {
                fired += 1
                if fired == 3 {
                    timer.close()
                    timer.close()  // twice is harmless
                    timer.start(afterMs: 1) { fired += 100 }  // a closed timer does nothing
                }
            }
        }
        #expect(weakTimer?.value != nil, "the loop keeps an open timer's owner alive, though nobody else holds it")
        loop.run()
        #expect(fired == 3)
        #expect(weakTimer?.value == nil, "released in the close callback")
        #expect(loop.close())
    }

    @Test("an iteration hook runs once per iteration while started, and closes clean")
    func iterationHook() throws {
        let loop = try EventLoop()
        var runs = 0
        let timer = Timer(loop: loop)
        let hook = IterationHook(loop: loop) { runs += 1 }
        hook.start()
        hook.start()  // idempotent
        timer.start(afterMs: 5) {
            hook.stop()
            hook.close()
            timer.close()
        }
        loop.run()
        #expect(runs >= 1)
        #expect(!hook.isActive)
        #expect(loop.close())
    }

    @Test("a signal watcher does not keep the loop alive and closes clean")
    func signalWatcher() throws {
        let loop = try EventLoop()
        let watcher = try SignalWatcher(loop: loop, signal: SignalWatcher.hangUp) {}
        loop.run()  // returns at once: the watcher is unreferenced
        watcher.close()
        loop.run()  // runs the close callback
        #expect(loop.close())
    }

    @Test("a listener that never accepted closes clean; a stream that failed to connect reports it and closes clean")
    func listenerAndFailedConnect() throws {
        let loop = try EventLoop()
        let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0)
        let port = try #require(listener.boundAddress()?.port)
        listener.close()
        loop.run()
        var connectError: UVError?? = nil
        let stream = try TCPStream.connect(loop: loop, host: "127.0.0.1", port: port) { connectError = .some($0) }
        loop.run()
        #expect(connectError != nil, "the completion ran")
        #expect(connectError??.name == "ECONNREFUSED", "\(String(describing: connectError))")
        stream.close()
        loop.run()
        #expect(loop.close())
    }

    @Test("a loop with a handle still open does not close (the leak check works)")
    func leakIsSeen() throws {
        let loop = try EventLoop()
        let timer = Timer(loop: loop)
        #expect(!loop.close(), "an open timer is a leak")
        timer.close()
        loop.run()
        #expect(loop.close())
    }
}
