// One host-name lookup off the loop: `uv_getaddrinfo` runs getaddrinfo on libuv's thread pool
// and calls back on the loop, so a resolver that is slow or never answers never blocks it.
//
// Ownership (rule 2 of the UV layer): the `uv_getaddrinfo_t` is allocated per lookup; the
// lookup object is retained into `request.data` until the callback, which runs exactly once
// (with UV_EAI_CANCELED when `cancel` took the lookup off the queue before a thread ran it),
// frees the answer and the request, and hands the completion its result.
//
// libuv runs lookups as "slow I/O": at most half of its thread-pool threads at once, so lookups
// stuck on a silent resolver cannot take the threads the commit log writes and syncs on. Names
// resolve to IPv4 (A records), as connections to names always have.
//
//   start(host) ─▶ uv_getaddrinfo ─(thread pool)─▶ lookupDone ─▶ completion(.success("10.0.0.5"))
//                                                         └────▶ completion(.failure(UVError))

import CUV
import Glibc

package final class NameLookup {
    private let request: UnsafeMutablePointer<uv_getaddrinfo_t>
    private var completion: ((Result<String, UVError>) -> Void)?
    private let host: String

    private init(host: String, completion: @escaping (Result<String, UVError>) -> Void) {
        self.host = host
        self.completion = completion
        request = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
    }

    /// Looks `host` up; `completion` runs once, on the loop, with the first IPv4 address as
    /// text, or the error. Throws (and never calls `completion`) if libuv refuses to start.
    package static func start(loop: EventLoop, host: String,
                              completion: @escaping (Result<String, UVError>) -> Void) throws -> NameLookup {
        let lookup = NameLookup(host: host, completion: completion)
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        lookup.request.pointee.data = Unmanaged.passRetained(lookup).toOpaque()
        // libuv copies the host name and the hints into the request.
        let status = uv_getaddrinfo(loop.loop, lookup.request, lookupDone, host, nil, &hints)
        guard status == 0 else {
            Unmanaged<NameLookup>.fromOpaque(lookup.request.pointee.data).release()
            lookup.request.deallocate()
            lookup.completion = nil
            throw UVError(status, "uv_getaddrinfo \(host)")
        }
        return lookup
    }

    /// Takes the lookup off libuv's queue if no thread has started it (true: the completion
    /// then runs with UV_EAI_CANCELED); false when it is running in a thread or has finished.
    package func cancel() -> Bool {
        completion != nil && uv_cancel(cuv_getaddrinfo_as_req(request)) == 0
    }

    fileprivate func finish(status: Int32, answer: UnsafeMutablePointer<addrinfo>?) {
        let result = Self.result(status: status, answer: answer, host: host)
        uv_freeaddrinfo(answer)
        request.deallocate()
        let done = completion
        completion = nil
        done?(result)
    }

    /// The first address of `answer` as text, or the error.
    private static func result(status: Int32, answer: UnsafeMutablePointer<addrinfo>?, host: String) -> Result<String, UVError> {
        guard status == 0 else { return .failure(UVError(status, "resolve \(host)")) }
        guard let first = answer, let socketAddress = first.pointee.ai_addr else {
            return .failure(UVError(Int32(UV_EAI_NODATA.rawValue), "resolve \(host)"))
        }
        var storage = sockaddr_storage()
        memcpy(&storage, socketAddress, Int(first.pointee.ai_addrlen))
        return .success(SocketAddress.hostPort(of: &storage).host)
    }
}

// C callback: recover the owner (retained at the start), call a Swift method.

private func lookupDone(_ request: UnsafeMutablePointer<uv_getaddrinfo_t>?, _ status: Int32,
                        _ answer: UnsafeMutablePointer<addrinfo>?) {
    Unmanaged<NameLookup>.fromOpaque(request!.pointee.data).takeRetainedValue().finish(status: status, answer: answer)
}
