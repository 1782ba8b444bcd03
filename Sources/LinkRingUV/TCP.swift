// TCP on the loop: a listener that accepts streams, and the stream itself.
//
// The listener polls its socket and accepts by itself, so a failed accept (out of descriptors
// or memory) is reported and retried after a pause instead of being hidden or spinning inside
// libuv (see `TCPListener`).
//
// Ownership (libuv's rule: a handle must not move and is freed only in its close callback):
// each `TCPStream` owns its `uv_tcp_t` (a `TCPListener` its `uv_poll_t`) through OwnedHandle,
// which retains the owner into `handle.data` and releases it and frees the memory in the one
// close callback (the listener closes its socket there too, after libuv stopped polling it).
// So the object outlives every callback libuv can still make, whoever else holds it.
//
// Writes: `write` tries `uv_try_write` first (the common case: the whole response fits in the
// socket buffer, no copy, no allocation). What is left is copied into a buffer owned by a
// `uv_write_t` until its callback, which runs exactly once (with UV_ECANCELED on close).
//
//   socket ──read──▶ loop read buffer ──ReadBytes.append──▶ delegate's [UInt8]
//   delegate ──write([UInt8])──▶ uv_try_write ──rest──▶ uv_write(copy) ──cb──▶ streamDidFlush

import CUV
import Glibc

/// What a stream tells its owner. All calls happen on the loop thread.
package protocol TCPStreamDelegate: AnyObject {
    /// Bytes arrived; copy them out with `bytes.append(to:)` before returning.
    func streamDidRead(_ stream: TCPStream, _ bytes: ReadBytes)
    /// The peer closed its side (error nil) or the connection failed.
    func streamDidEnd(_ stream: TCPStream, error: UVError?)
    /// Every queued write has completed.
    func streamDidFlush(_ stream: TCPStream)
    /// The handle is closed; the stream will make no more calls.
    func streamDidClose(_ stream: TCPStream)
}

/// Bytes just read, valid only during `streamDidRead`.
package struct ReadBytes {
    fileprivate let pointer: UnsafeRawBufferPointer

    package var count: Int { pointer.count }

    package func append(to buffer: inout [UInt8]) {
        buffer.append(contentsOf: pointer)
    }
}

package final class TCPStream: HandleOwner {
    private let owned: OwnedHandle<uv_tcp_t>
    /// `owned.pointer`, kept here: every read and write uses it.
    let handle: UnsafeMutablePointer<uv_tcp_t>
    /// Strong while open; cleared on close so the owner and stream do not keep each other.
    package var delegate: TCPStreamDelegate?
    private(set) var isClosing = false
    package private(set) var isReading = false
    /// Bytes handed to `uv_write` whose callback has not run yet.
    package private(set) var queuedWriteBytes = 0

    init(loop: EventLoop) throws {
        owned = try OwnedHandle("uv_tcp_init", asHandle: cuv_tcp_as_handle) { uv_tcp_init(loop.loop, $0) }
        handle = owned.pointer
        owned.retain(self)
    }

    var stream: UnsafeMutablePointer<uv_stream_t> { cuv_tcp_as_stream(handle) }

    private var onConnect: ((UVError?) -> Void)?

    /// A new outbound stream to a numeric address (a name is resolved first, off the loop:
    /// NameLookup); `completion` runs once: nil when connected, else the error (UV_ECANCELED
    /// if the stream is closed first). Reading starts only when asked.
    package static func connect(loop: EventLoop, host: String, port: Int,
                               completion: @escaping (UVError?) -> Void) throws -> TCPStream {
        var address = try SocketAddress.numeric(host: host, port: port)
        let stream = try TCPStream(loop: loop)
        let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        stream.onConnect = completion
        let status = uv_tcp_connect(request, stream.handle, cuv_storage_as_sockaddr(&address), streamConnected)
        if status != 0 {
            request.deallocate()
            stream.onConnect = nil
            stream.close()
            throw UVError(status, "connect \(host):\(port)")
        }
        return stream
    }

    fileprivate func didConnect(status: Int32) {
        let completion = onConnect
        onConnect = nil
        completion?(status == 0 ? nil : UVError(status, "connect"))
    }

    package func startReading() {
        guard !isReading, !isClosing else { return }
        let status = uv_read_start(stream, streamAllocate, streamRead)
        if status == 0 { isReading = true } else { delegate?.streamDidEnd(self, error: UVError(status, "uv_read_start")) }
    }

    package func stopReading() {
        guard isReading, !isClosing else { return }
        mustSucceed(uv_read_stop(stream), "uv_read_stop")
        isReading = false
    }

    /// TCP_NODELAY; it fails only on a socket the peer already reset, which the next read reports.
    package func setNoDelay(_ enabled: Bool) throws {
        try check(uv_tcp_nodelay(handle, enabled ? 1 : 0), "uv_tcp_nodelay")
    }

    /// The numeric addresses of both ends (`uv_tcp_getsockname`, `uv_tcp_getpeername`), or nil
    /// once the socket is closed or reset.
    package func addresses() -> (local: String, peer: String)? {
        guard let local = address(uv_tcp_getsockname), let peer = address(uv_tcp_getpeername) else { return nil }
        return (local.host, peer.host)
    }

    private func address(_ get: (UnsafePointer<uv_tcp_t>?, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<Int32>?) -> Int32)
        -> (host: String, port: Int)? {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        guard !isClosing, get(handle, cuv_storage_as_sockaddr(&storage), &length) == 0 else { return nil }
        return SocketAddress.hostPort(of: &storage)
    }

    /// Sends `bytes`, in order after everything written before. Errors end the stream.
    package func write(_ bytes: [UInt8]) {
        guard !isClosing, !bytes.isEmpty else { return }
        var written = 0
        if queuedWriteBytes == 0 {
            written = bytes.withUnsafeBytes { raw -> Int in
                var buffer = uv_buf_init(UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: CChar.self)),
                                         UInt32(raw.count))
                return Int(uv_try_write(stream, &buffer, 1))
            }
            if written == bytes.count { return }
            if written < 0 && written != Int(UV_EAGAIN.rawValue) {
                delegate?.streamDidEnd(self, error: UVError(Int32(written), "uv_try_write"))
                return
            }
            written = max(written, 0)
        }
        queueWrite(bytes, from: written)
    }

    private func queueWrite(_ bytes: [UInt8], from offset: Int) {
        let count = bytes.count - offset
        // One block: the byte count, then the bytes; freed in the write callback.
        let block = UnsafeMutableRawPointer.allocate(byteCount: 8 + count, alignment: 8)
        block.storeBytes(of: count, as: Int.self)
        bytes.withUnsafeBytes { raw in (block + 8).copyMemory(from: raw.baseAddress! + offset, byteCount: count) }
        let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        request.pointee.data = block
        var buffer = uv_buf_init((block + 8).assumingMemoryBound(to: CChar.self), UInt32(count))
        let status = uv_write(request, stream, &buffer, 1, streamWrote)
        guard status == 0 else {
            block.deallocate()
            request.deallocate()
            delegate?.streamDidEnd(self, error: UVError(status, "uv_write"))
            return
        }
        queuedWriteBytes += count
    }

    fileprivate func didWrite(_ request: UnsafeMutablePointer<uv_write_t>, status: Int32) {
        let block = request.pointee.data!
        queuedWriteBytes -= block.load(as: Int.self)
        block.deallocate()
        request.deallocate()
        if isClosing { return }
        if status < 0 {
            delegate?.streamDidEnd(self, error: UVError(status, "write"))
        } else if queuedWriteBytes == 0 {
            delegate?.streamDidFlush(self)
        }
    }

    fileprivate func didRead(_ count: Int, _ buffer: UnsafePointer<uv_buf_t>?) {
        if count > 0, let base = buffer?.pointee.base {
            delegate?.streamDidRead(self, ReadBytes(pointer: UnsafeRawBufferPointer(start: base, count: count)))
        } else if count < 0 {
            stopReading()
            let error = UVError(Int32(count), "read")
            delegate?.streamDidEnd(self, error: error.isEndOfFile ? nil : error)
        }
    }

    func handleDidClose() {
        let owner = delegate
        delegate = nil
        owner?.streamDidClose(self)
    }

    /// Sends FIN after queued writes; reading continues until the peer closes.
    package func shutdown() {
        guard !isClosing else { return }
        let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        if uv_shutdown(request, stream, streamShutdown) != 0 { request.deallocate() }
    }

    /// Closes the handle; `streamDidClose` follows (after cancelled writes' callbacks).
    package func close() {
        guard !isClosing else { return }
        isClosing = true
        isReading = false
        owned.close()
    }

}

/// Accepts connections on one address.
///
/// The listener accepts by itself (a `uv_poll_t` on its socket, `accept4`, `uv_tcp_open`)
/// rather than through `uv_listen`, because of what libuv does when accept fails for want of
/// descriptors (EMFILE, ENFILE): it closes the waiting connections unseen (its reserve
/// descriptor trick), so nobody learns of it; and without its reserve, or on ENOMEM/ENOBUFS,
/// it calls back with the error in a loop that returns only once accept works again, which
/// cannot happen while the loop is stuck there. Here an accept error stops polling, is
/// reported to the owner, and polling resumes after `retryDelayMs`; new clients wait in the
/// kernel's backlog meanwhile and are served once descriptors are free. At most
/// `acceptsPerWakeup` connections are taken per wake-up (the socket stays readable for more).
package final class TCPListener: HandleOwner {
    private let loop: EventLoop
    private let descriptor: Int32
    private let owned: OwnedHandle<uv_poll_t>
    private var poll: UnsafeMutablePointer<uv_poll_t> { owned.pointer }
    private var retryTimer: Timer?
    private var acceptsPerWakeup = 1
    private var retryDelayMs: UInt64 = 0
    private var onConnection: ((TCPStream) -> Void)?
    private var onAcceptError: ((UVError) -> Void)?
    private var isClosing = false
    /// `HOST:PORT` as asked for, for error messages ("listen 127.0.0.1:9001: address already in use").
    private let name: String

    /// Binds `host:port` (a numeric address or a name resolved now); port 0 picks a free one.
    package init(loop: EventLoop, host: String, port: Int) throws {
        self.loop = loop
        name = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var address = try SocketAddress.resolve(host: host, port: port)
        descriptor = try SocketAddress.boundSocket(&address, name: name)
        do {
            let socket = descriptor
            owned = try OwnedHandle("uv_poll_init_socket", asHandle: cuv_poll_as_handle) { uv_poll_init_socket(loop.loop, $0, socket) }
        } catch {
            Glibc.close(descriptor)
            throw error
        }
        owned.retain(self)
    }

    /// Starts accepting; `onConnection` receives each new stream (not yet reading),
    /// `onAcceptError` each failed accept (accepting pauses `retryDelayMs` after one).
    package func listen(backlog: Int32 = 511, acceptsPerWakeup: Int, retryDelayMs: UInt64,
                       onConnection: @escaping (TCPStream) -> Void, onAcceptError: @escaping (UVError) -> Void) throws {
        self.acceptsPerWakeup = acceptsPerWakeup
        self.retryDelayMs = retryDelayMs
        self.onConnection = onConnection
        self.onAcceptError = onAcceptError
        guard Glibc.listen(descriptor, backlog) == 0 else {
            let error = UVError(-errno, "listen \(name)")
            close()
            throw error
        }
        startPolling()
    }

    /// The bound address (the real port when 0 was asked for).
    package func boundAddress() -> (host: String, port: Int)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        guard getsockname(descriptor, cuv_storage_as_sockaddr(&storage), &length) == 0 else { return nil }
        return SocketAddress.hostPort(of: &storage)
    }

    /// Stops accepting and closes the socket.
    package func close() {
        guard !isClosing else { return }
        isClosing = true
        onConnection = nil
        onAcceptError = nil
        retryTimer?.close()
        retryTimer = nil
        owned.close()
    }

    private func startPolling() {
        guard !isClosing else { return }
        let status = uv_poll_start(poll, Int32(UV_READABLE.rawValue), listenerReadable)
        if status != 0 { pause(after: UVError(status, "uv_poll_start")) }
    }

    /// Stops polling, reports `error`, and polls again after `retryDelayMs`.
    private func pause(after error: UVError) {
        mustSucceed(uv_poll_stop(poll), "uv_poll_stop")
        onAcceptError?(error)
        guard !isClosing else { return }
        let timer = retryTimer ?? Timer(loop: loop)
        retryTimer = timer
        timer.start(afterMs: retryDelayMs) { [unowned self] in self.startPolling() }
    }

    fileprivate func acceptPending(status: Int32) {
        guard !isClosing else { return }
        guard status == 0 else { return pause(after: UVError(status, "poll")) }
        for _ in 0..<acceptsPerWakeup {
            let accepted = cuv_accept(descriptor)
            if accepted == -EAGAIN || accepted == -EWOULDBLOCK { return }
            if accepted == -EINTR || accepted == -ECONNABORTED { continue }
            guard accepted >= 0 else { return pause(after: UVError(accepted, "accept")) }
            adopt(accepted)
            if isClosing { return }
        }
    }

    /// Wraps an accepted descriptor in a stream and hands it to the owner.
    private func adopt(_ accepted: Int32) {
        let stream: TCPStream
        do {
            stream = try TCPStream(loop: loop)
        } catch {
            return refuse(accepted, error)
        }
        let status = uv_tcp_open(stream.handle, accepted)
        guard status == 0 else {
            stream.close()
            return refuse(accepted, UVError(status, "uv_tcp_open"))
        }
        onConnection?(stream)
    }

    /// Closes an accepted descriptor that could not become a stream, and reports why.
    private func refuse(_ accepted: Int32, _ error: Error) {
        Glibc.close(accepted)
        onAcceptError?(error as? UVError ?? UVError(-EINVAL, "accept: \(error)"))
    }

    /// libuv stopped polling the socket: it can be closed now.
    func handleDidClose() {
        Glibc.close(descriptor)
    }
}

package enum SocketAddress {
    /// A numeric IPv4/IPv6 address; throws UV_EINVAL for anything else (never a lookup).
    static func numeric(host: String, port: Int) throws -> sockaddr_storage {
        var storage = sockaddr_storage()
        if uv_ip4_addr(host, Int32(port), cuv_storage_as_in_mut(&storage)) == 0 { return storage }
        storage = sockaddr_storage()
        if uv_ip6_addr(host, Int32(port), cuv_storage_as_in6_mut(&storage)) == 0 { return storage }
        throw UVError(Int32(UV_EINVAL.rawValue), "\(host) is not a numeric address")
    }

    /// A numeric IPv4/IPv6 address, or a name resolved with getaddrinfo: for the listen address
    /// at start-up only, before the loop runs (it blocks).
    static func resolve(host: String, port: Int) throws -> sockaddr_storage {
        if let numeric = try? numeric(host: host, port: port) { return numeric }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result, let address = first.pointee.ai_addr else {
            throw UVError(Int32(UV_EAI_NONAME.rawValue), "resolve \(host)")
        }
        defer { freeaddrinfo(result) }
        var storage = sockaddr_storage()
        memcpy(&storage, address, Int(first.pointee.ai_addrlen))
        cuv_set_port(&storage, UInt16(port))
        return storage
    }

    /// A non-blocking, close-on-exec TCP socket bound to `address` (SO_REUSEADDR, as libuv's
    /// bind), not yet listening. `name` is for the error message.
    static func boundSocket(_ address: inout sockaddr_storage, name: String) throws -> Int32 {
        let family = Int32(address.ss_family)
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw UVError(-errno, "socket for \(name)") }
        var enabled: Int32 = 1
        let length = family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size
        guard setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &enabled, socklen_t(MemoryLayout<Int32>.size)) == 0,
              bind(descriptor, cuv_storage_as_sockaddr(&address), socklen_t(length)) == 0 else {
            let error = UVError(-errno, "bind \(name)")
            Glibc.close(descriptor)
            throw error
        }
        return descriptor
    }

    static func hostPort(of storage: inout sockaddr_storage) -> (host: String, port: Int) {
        var name = [CChar](repeating: 0, count: 64)
        if Int32(storage.ss_family) == AF_INET6 {
            mustSucceed(uv_ip6_name(cuv_storage_as_in6(&storage), &name, name.count), "uv_ip6_name")
        } else {
            mustSucceed(uv_ip4_name(cuv_storage_as_in(&storage), &name, name.count), "uv_ip4_name")
        }
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (host, Int(cuv_get_port(&storage)))
    }
}

// C callbacks: recover the owner, call a Swift method.

private func streamOwner(_ handle: UnsafeMutableRawPointer?) -> TCPStream {
    Unmanaged<TCPStream>.fromOpaque(handle!).takeUnretainedValue()
}

private func streamAllocate(_ handle: UnsafeMutablePointer<uv_handle_t>?, _ suggested: Int, _ buffer: UnsafeMutablePointer<uv_buf_t>?) {
    let loop = EventLoop.owner(of: handle?.pointee.loop)!
    buffer!.pointee = uv_buf_init(loop.readBuffer.assumingMemoryBound(to: CChar.self), UInt32(EventLoop.readBufferBytes))
}

private func streamRead(_ stream: UnsafeMutablePointer<uv_stream_t>?, _ count: Int, _ buffer: UnsafePointer<uv_buf_t>?) {
    streamOwner(stream?.pointee.data).didRead(count, buffer)
}

private func streamWrote(_ request: UnsafeMutablePointer<uv_write_t>?, _ status: Int32) {
    streamOwner(request!.pointee.handle.pointee.data).didWrite(request!, status: status)
}

private func streamConnected(_ request: UnsafeMutablePointer<uv_connect_t>?, _ status: Int32) {
    let owner = streamOwner(request!.pointee.handle.pointee.data)
    request!.deallocate()
    owner.didConnect(status: status)
}

private func streamShutdown(_ request: UnsafeMutablePointer<uv_shutdown_t>?, _ status: Int32) {
    request?.deallocate()
}

private func listenerReadable(_ poll: UnsafeMutablePointer<uv_poll_t>?, _ status: Int32, _ events: Int32) {
    Unmanaged<TCPListener>.fromOpaque(poll!.pointee.data).takeUnretainedValue().acceptPending(status: status)
}

