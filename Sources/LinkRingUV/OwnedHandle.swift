// The one lifecycle of every libuv handle LinkRing owns (libuv's rule: a handle must not move,
// and its memory may be freed only in its close callback):
//
//   OwnedHandle(…) allocates the handle once and initialises it (a failure frees it: throws)
//   ─▶ retain(owner): the owning object is retained into handle.data, so it outlives every
//      callback libuv can still make, whoever else holds it
//   ─▶ close() (once; later calls do nothing): uv_close ─▶ handleClosed: the owner hears
//      `handleDidClose` (a listener closes its socket there), is released, and the memory freed
//
// Every libuv status goes through one funnel: `check` throws an operating error (a port in
// use, out of descriptors), `mustSucceed` traps on a status that only a bug of ours can cause
// (starting a closed timer), as SwiftNIO does.

import CUV

/// Told once its handle is closed, just before the handle is freed and the owner released.
protocol HandleOwner: AnyObject {
    func handleDidClose()
}

extension HandleOwner {
    func handleDidClose() {}
}

/// One heap-allocated handle of C type `Handle`.
final class OwnedHandle<Handle> {
    let pointer: UnsafeMutablePointer<Handle>
    /// The same memory as a `uv_handle_t` (through the shim's cast helpers: no type punning here).
    let base: UnsafeMutablePointer<uv_handle_t>
    /// True from `close()` on: the handle must not be started again.
    private(set) var isClosing = false

    /// Allocates and initialises a handle; on failure frees it and throws.
    init(_ operation: @autoclosure () -> String, asHandle: (UnsafeMutablePointer<Handle>) -> UnsafeMutablePointer<uv_handle_t>?,
         initialize: (UnsafeMutablePointer<Handle>) -> Int32) throws {
        pointer = UnsafeMutablePointer<Handle>.allocate(capacity: 1)
        base = asHandle(pointer)!
        let status = initialize(pointer)
        guard status == 0 else {
            pointer.deallocate()
            throw UVError(status, operation())
        }
        base.pointee.data = nil
    }

    /// Takes a handle that a libuv call has already initialised (uv_spawn initialises and
    /// starts in one call, and must be closed even when it fails).
    init(adopting pointer: UnsafeMutablePointer<Handle>, asHandle: (UnsafeMutablePointer<Handle>) -> UnsafeMutablePointer<uv_handle_t>?) {
        self.pointer = pointer
        base = asHandle(pointer)!
        base.pointee.data = nil
    }

    /// Retains `owner` into the handle until its close callback (once, at the end of the owner's init).
    func retain(_ owner: HandleOwner) {
        base.pointee.data = Unmanaged.passRetained(owner as AnyObject).toOpaque()
    }

    func close() {
        guard !isClosing else { return }
        isClosing = true
        uv_close(base, handleClosed)
    }
}

/// Traps when a libuv call that fails only through a bug of ours fails anyway.
@inline(__always)
func mustSucceed(_ status: Int32, _ operation: @autoclosure () -> String) {
    precondition(status >= 0, "\(operation()): \(status < 0 ? UVError(status, operation()).description : "")")
}

private func handleClosed(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    guard let handle else { return }
    if let data = handle.pointee.data {
        let owner = Unmanaged<AnyObject>.fromOpaque(data)
        (owner.takeUnretainedValue() as? HandleOwner)?.handleDidClose()
        owner.release()
    }
    UnsafeMutableRawPointer(handle).deallocate()
}
