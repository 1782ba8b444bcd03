// Concurrent client load for the healing tests: parallel writers that record every
// acknowledged write in a ledger, and a reader that checks every answer against it.
//
// Values are "http://v/KEY/SEQ" with SEQ growing per key, so a reader can tell a stale value
// (SEQ older than the last write acknowledged before the read began) from a current one.

import Foundation
import LinkRingCore

/// What clients know was acknowledged, shared between threads under a lock.
final class Ledger: @unchecked Sendable {
    private let lock = NSLock()
    private var ackedSeq: [String: Int] = [:]
    private var deleted: Set<String> = []
    /// Keys a DELETE was sent for, acknowledged or not: a read that meets the DELETE on the
    /// servers rightly answers 404 before the writer hears back.
    private var deleting: Set<String> = []
    private(set) var writeFailures: [String] = []
    private(set) var readErrors: [String] = []
    private(set) var staleReads: [String] = []
    private(set) var reads = 0
    private var stopped = false
    /// The most recently acknowledged keys: the reader keeps probing them (fresh writes are
    /// where a replica that missed them would show a stale value).
    private var recent: [String] = []
    private var recentNext = 0
    private static let recentMax = 256

    func acked(_ key: String, seq: Int) {
        lock.withLock {
            ackedSeq[key] = max(ackedSeq[key] ?? -1, seq)
            deleted.remove(key)
            deleting.remove(key)
            if recent.count < Self.recentMax { recent.append(key) } else { recent[recentNext] = key }
            recentNext = (recentNext + 1) % Self.recentMax
        }
    }

    /// Every key's highest acknowledged SEQ now.
    func ackedSeqs() -> [String: Int] { lock.withLock { ackedSeq } }

    func recentKey(_ index: Int) -> String? { lock.withLock { recent.isEmpty ? nil : recent[index % recent.count] } }
    func ackedDelete(_ key: String) { _ = lock.withLock { deleted.insert(key) } }
    func deleteSent(_ key: String) { _ = lock.withLock { deleting.insert(key) } }
    func writeFailed(_ detail: String) { lock.withLock { writeFailures.append(detail) } }
    func seq(of key: String) -> Int? { lock.withLock { ackedSeq[key] } }
    func isDeleted(_ key: String) -> Bool { lock.withLock { deleted.contains(key) } }
    func stop() { lock.withLock { stopped = true } }
    var isStopped: Bool { lock.withLock { stopped } }

    /// Judges one read through `port` (named in what is recorded, to tell two proxies apart;
    /// negative for a writer reading its own write back).
    func checkRead(_ key: String, floor: Int, status: Int, location: String?, port: Int = 0, body: String = "") {
        lock.withLock {
            reads += 1
            guard status == 307, let location else {
                // A read racing the key's DELETE: 404 is its answer (the reader skips keys whose
                // DELETE was acknowledged; this one was in flight when the read began).
                if status == 404 && deleting.contains(key) { return }
                readErrors.append("\(key): status \(status) via :\(port)\(failureReason(inPage: body).map { ": " + $0 } ?? "")")
                return
            }
            let seq = Int(location.split(separator: "/").last ?? "") ?? -1
            if seq < floor { staleReads.append("\(key): got seq \(seq), acknowledged \(floor), via :\(port)") }
        }
    }

    func readFailed(_ detail: String) { lock.withLock { readErrors.append(detail) } }

    /// The expected final state: key → "http://v/KEY/SEQ", or nil when deleted.
    func expected() -> [String: String?] {
        lock.withLock {
            var result: [String: String?] = [:]
            for (key, seq) in ackedSeq { result[key] = deleted.contains(key) ? nil : "http://v/\(key)/\(seq)" }
            for key in deleted where result[key] == nil { result[key] = .some(nil) }
            return result
        }
    }
}

enum WriteOp: Sendable {
    case put(String, seq: Int)
    case delete(String)
}

/// Runs `ops` over `workers` keep-alive connections in parallel; records acknowledgements.
/// With `readBack`, every acknowledged PUT is read back at once through the same connection
/// and must show that value or a newer one (read-your-writes, the sharpest stale-read probe).
func runWrites(port: Int, _ ops: [WriteOp], workers: Int = 16, ledger: Ledger, readBack: Bool = false) {
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
        guard let client = try? TestClient(port: port) else { return ledger.writeFailed("worker \(worker): connect failed") }
        for index in stride(from: worker, to: ops.count, by: workers) {
            do {
                switch ops[index] {
                case .put(let key, let seq):
                    let answer = try client.request("PUT", "/?short=\(key)&long=http://v/\(key)/\(seq)")
                    if answer.status == 200 { ledger.acked(key, seq: seq) } else { ledger.writeFailed("PUT \(key): \(answer.status)") }
                    if readBack && answer.status == 200 {
                        let read = try client.request("GET", "/\(key)")
                        ledger.checkRead(key, floor: seq, status: read.status, location: read.headers["location"], port: -port,
                                         body: read.body)
                    }
                case .delete(let key):
                    ledger.deleteSent(key)
                    let answer = try client.request("DELETE", "/\(key)")
                    if answer.status == 200 || answer.status == 404 { ledger.ackedDelete(key) } else { ledger.writeFailed("DELETE \(key): \(answer.status)") }
                }
            } catch {
                ledger.writeFailed("\(ops[index]): \(error)")
            }
        }
    }
}

/// Reads `keys` round-robin through `port` until the ledger is stopped, checking each answer.
func startReader(port: Int, keys: [String], ledger: Ledger) -> Thread {
    let thread = Thread {
        var client = try? TestClient(port: port)
        var index = 0
        while !ledger.isStopped {
            let key = index % 2 == 0 ? ledger.recentKey(index / 2) ?? keys[index % keys.count] : keys[index % keys.count]
            index += 1
            guard !ledger.isDeleted(key) else { continue }
            let floor = ledger.seq(of: key) ?? 0
            do {
                if client == nil { client = try TestClient(port: port) }
                let answer = try client!.request("GET", "/\(key)")
                ledger.checkRead(key, floor: floor, status: answer.status, location: answer.headers["location"], port: port,
                                 body: answer.body)
            } catch {
                ledger.readFailed("\(key): \(error)")
                client = nil
            }
        }
    }
    thread.start()
    return thread
}
