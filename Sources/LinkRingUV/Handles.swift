// Timers, signal watchers and per-iteration check hooks.
//
// Each is a `final class` owning one handle allocated once and retained into `handle.data`;
// the close callback releases it and frees the memory. The action closure is dropped on
// close, which breaks any cycle between the handle and whoever owns it.

import CUV

/// A `uv_timer_t`: once after `afterMs`, then every `repeatMs` (0 = once).
public final class Timer {
    private let handle: UnsafeMutablePointer<uv_timer_t>
    private var action: (() -> Void)?
    private var isClosing = false

    public init(loop: EventLoop) {
        handle = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
        uv_timer_init(loop.loop, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    public func start(afterMs: UInt64, repeatMs: UInt64 = 0, _ action: @escaping () -> Void) {
        guard !isClosing else { return }
        self.action = action
        uv_timer_start(handle, timerFired, afterMs, repeatMs)
    }

    public func stop() {
        guard !isClosing else { return }
        uv_timer_stop(handle)
    }

    /// A timer that does not keep the loop alive on its own.
    public func unref() { uv_unref(cuv_timer_as_handle(handle)) }

    public func close() {
        guard !isClosing else { return }
        isClosing = true
        action = nil
        uv_close(cuv_timer_as_handle(handle), timerClosed)
    }

    fileprivate func fire() { action?() }
}

/// A `uv_signal_t` watching one signal.
public final class SignalWatcher {
    private let handle: UnsafeMutablePointer<uv_signal_t>
    private var action: (() -> Void)?
    private var isClosing = false

    public init(loop: EventLoop, signal: Int32, _ action: @escaping () -> Void) throws {
        handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
        uv_signal_init(loop.loop, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        self.action = action
        let status = uv_signal_start(handle, signalFired, signal)
        if status != 0 {
            close()
            throw UVError(status, "uv_signal_start")
        }
        uv_unref(cuv_signal_as_handle(handle))
    }

    public func close() {
        guard !isClosing else { return }
        isClosing = true
        action = nil
        uv_close(cuv_signal_as_handle(handle), signalClosed)
    }

    fileprivate func fire() { action?() }

    public static let terminate = SIGTERM
    public static let interrupt = SIGINT
    public static let hangUp = SIGHUP
}

/// A `uv_check_t`: runs its action once per loop iteration, after I/O, while started.
public final class IterationHook {
    private let handle: UnsafeMutablePointer<uv_check_t>
    private var action: (() -> Void)?
    private var isClosing = false
    public private(set) var isActive = false

    public init(loop: EventLoop, _ action: @escaping () -> Void) {
        handle = UnsafeMutablePointer<uv_check_t>.allocate(capacity: 1)
        uv_check_init(loop.loop, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        self.action = action
    }

    public func start() {
        guard !isActive, !isClosing else { return }
        isActive = true
        uv_check_start(handle, checkFired)
    }

    public func stop() {
        guard isActive, !isClosing else { return }
        isActive = false
        uv_check_stop(handle)
    }

    public func close() {
        guard !isClosing else { return }
        isClosing = true
        isActive = false
        action = nil
        uv_close(cuv_check_as_handle(handle), checkClosed)
    }

    fileprivate func fire() { action?() }
}

private func timerFired(_ handle: UnsafeMutablePointer<uv_timer_t>?) {
    Unmanaged<Timer>.fromOpaque(handle!.pointee.data).takeUnretainedValue().fire()
}

private func timerClosed(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    Unmanaged<Timer>.fromOpaque(handle!.pointee.data).release()
    handle!.deallocate()
}

private func signalFired(_ handle: UnsafeMutablePointer<uv_signal_t>?, _ signal: Int32) {
    Unmanaged<SignalWatcher>.fromOpaque(handle!.pointee.data).takeUnretainedValue().fire()
}

private func signalClosed(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    Unmanaged<SignalWatcher>.fromOpaque(handle!.pointee.data).release()
    handle!.deallocate()
}

private func checkFired(_ handle: UnsafeMutablePointer<uv_check_t>?) {
    Unmanaged<IterationHook>.fromOpaque(handle!.pointee.data).takeUnretainedValue().fire()
}

private func checkClosed(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    Unmanaged<IterationHook>.fromOpaque(handle!.pointee.data).release()
    handle!.deallocate()
}
