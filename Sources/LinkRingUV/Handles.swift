// Timers, signal watchers, per-iteration check hooks and next-turn work.
//
// Each is a `final class` owning one handle (OwnedHandle: allocated once, the owner retained
// into `handle.data`, released and freed by the one close callback). The action closure is
// dropped on close, which breaks any cycle between the handle and whoever owns it.

import CUV
import Glibc

/// A `uv_timer_t`: once after `afterMs`, then every `repeatMs` (0 = once).
package final class Timer: HandleOwner {
    private let handle: OwnedHandle<uv_timer_t>
    private var action: (() -> Void)?

    package init(loop: EventLoop) {
        do {
            handle = try OwnedHandle("uv_timer_init", asHandle: cuv_timer_as_handle) { uv_timer_init(loop.loop, $0) }
        } catch {
            preconditionFailure("\(error)")  // uv_timer_init cannot fail on a live loop
        }
        handle.retain(self)
    }

    package func start(afterMs: UInt64, repeatMs: UInt64 = 0, _ action: @escaping () -> Void) {
        guard !handle.isClosing else { return }
        self.action = action
        mustSucceed(uv_timer_start(handle.pointer, timerFired, afterMs, repeatMs), "uv_timer_start")
    }

    package func stop() {
        guard !handle.isClosing else { return }
        mustSucceed(uv_timer_stop(handle.pointer), "uv_timer_stop")
    }

    /// A timer that does not keep the loop alive on its own.
    func unref() { uv_unref(handle.base) }

    package func close() {
        action = nil
        handle.close()
    }

    fileprivate func fire() { action?() }
}

/// A `uv_signal_t` watching one signal.
package final class SignalWatcher: HandleOwner {
    private let handle: OwnedHandle<uv_signal_t>
    private var action: (() -> Void)?

    package init(loop: EventLoop, signal: Int32, _ action: @escaping () -> Void) throws {
        handle = try OwnedHandle("uv_signal_init", asHandle: cuv_signal_as_handle) { uv_signal_init(loop.loop, $0) }
        handle.retain(self)
        self.action = action
        let status = uv_signal_start(handle.pointer, signalFired, signal)
        if status != 0 {
            close()
            throw UVError(status, "uv_signal_start")
        }
        uv_unref(handle.base)
    }

    package func close() {
        action = nil
        handle.close()
    }

    fileprivate func fire() { action?() }

    /// Ignores `signal` in this process (libuv puts back the default action, which for SIGUSR1
    /// is to die, when the last watcher of a signal closes).
    package static func ignore(_ signal: Int32) { _ = Glibc.signal(signal, SIG_IGN) }

    package static let terminate = SIGTERM
    package static let interrupt = SIGINT
    package static let hangUp = SIGHUP
    /// A backup's request for a snapshot (BackupSnapshots.swift).
    package static let userSignal = SIGUSR1
}

/// A `uv_check_t`: runs its action once per loop iteration, after I/O, while started.
package final class IterationHook: HandleOwner {
    private let handle: OwnedHandle<uv_check_t>
    private var action: (() -> Void)?
    private(set) var isActive = false

    package init(loop: EventLoop, _ action: @escaping () -> Void) {
        do {
            handle = try OwnedHandle("uv_check_init", asHandle: cuv_check_as_handle) { uv_check_init(loop.loop, $0) }
        } catch {
            preconditionFailure("\(error)")  // uv_check_init cannot fail on a live loop
        }
        handle.retain(self)
        self.action = action
    }

    package func start() {
        guard !isActive, !handle.isClosing else { return }
        isActive = true
        mustSucceed(uv_check_start(handle.pointer, checkFired), "uv_check_start")
    }

    package func stop() {
        guard isActive, !handle.isClosing else { return }
        isActive = false
        mustSucceed(uv_check_stop(handle.pointer), "uv_check_stop")
    }

    package func close() {
        isActive = false
        action = nil
        handle.close()
    }

    fileprivate func fire() { action?() }
}

/// A `uv_idle_t`: runs its action once per loop iteration, before the loop polls, while
/// started; while it is, the poll does not block (work left for the next turn goes on at once).
package final class NextTurnWork: HandleOwner {
    private let handle: OwnedHandle<uv_idle_t>
    private var action: (() -> Void)?
    private(set) var isActive = false

    package init(loop: EventLoop, _ action: @escaping () -> Void) {
        do {
            handle = try OwnedHandle("uv_idle_init", asHandle: cuv_idle_as_handle) { uv_idle_init(loop.loop, $0) }
        } catch {
            preconditionFailure("\(error)")  // uv_idle_init cannot fail on a live loop
        }
        handle.retain(self)
        self.action = action
    }

    package func start() {
        guard !isActive, !handle.isClosing else { return }
        isActive = true
        mustSucceed(uv_idle_start(handle.pointer, idleFired), "uv_idle_start")
    }

    package func stop() {
        guard isActive, !handle.isClosing else { return }
        isActive = false
        mustSucceed(uv_idle_stop(handle.pointer), "uv_idle_stop")
    }

    package func close() {
        isActive = false
        action = nil
        handle.close()
    }

    fileprivate func fire() { action?() }
}

private func idleFired(_ handle: UnsafeMutablePointer<uv_idle_t>?) {
    Unmanaged<NextTurnWork>.fromOpaque(handle!.pointee.data).takeUnretainedValue().fire()
}

private func timerFired(_ handle: UnsafeMutablePointer<uv_timer_t>?) {
    Unmanaged<Timer>.fromOpaque(handle!.pointee.data).takeUnretainedValue().fire()
}

private func signalFired(_ handle: UnsafeMutablePointer<uv_signal_t>?, _ signal: Int32) {
    Unmanaged<SignalWatcher>.fromOpaque(handle!.pointee.data).takeUnretainedValue().fire()
}

private func checkFired(_ handle: UnsafeMutablePointer<uv_check_t>?) {
    Unmanaged<IterationHook>.fromOpaque(handle!.pointee.data).takeUnretainedValue().fire()
}
