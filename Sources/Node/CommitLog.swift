// The node's write path to disk: group commit over the append-only log.
//
//   submit(record) ─▶ pending bytes + waiters ─(end of loop iteration)─▶ one append
//        (uv_fs_write [+ fdatasync]) on the thread pool ─▶ apply every record of the batch to
//        the index, then answer every waiter
//
// Every write that arrives in one loop iteration shares one write and one fdatasync; writes
// arriving while a batch is on disk form the next batch. The index holds only durable data: a
// record is applied after its batch is on disk, so a read never returns a value that a crash
// could still take back. A failed batch is answered `false` (503) and nothing of it is
// applied; the file was cut back to its start, so a later batch appends cleanly (a full disk
// recovers once space is freed). Under `everysec`, batches are written without fdatasync and
// a timer asks for one fdatasync a second; under `never`, the kernel decides.
//
// Between batches the log file can be swapped (`whenIdle`, `replaceFile`): log compaction
// copies the last records into its rewritten file and appends to that one from then on.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class CommitLog {
    private var file: AppendOnlyFile
    private let policy: FsyncPolicy
    private let apply: (LogRecord) -> Void
    private var pendingBytes: [UInt8] = []
    private var pending: [(record: LogRecord, done: (Bool) -> Void)] = []
    private var inFlight: [(record: LogRecord, done: (Bool) -> Void)] = []
    private var hook: IterationHook?
    private var syncTimer: Timer?
    private var needsSync = false
    private var onIdle: (() -> Void)?
    private var betweenBatches: (() -> Void)?
    private var loggedFailure = false

    /// Bytes in the log file.
    var sizeBytes: Int { file.size }
    /// False after an fdatasync failure: the node then refuses writes until restarted.
    var isWritable: Bool { file.failure == nil }

    init(loop: EventLoop, file: AppendOnlyFile, policy: FsyncPolicy, apply: @escaping (LogRecord) -> Void) {
        self.file = file
        self.policy = policy
        self.apply = apply
        hook = IterationHook(loop: loop) { [unowned self] in self.endOfIteration() }
        if policy == .everysec {
            let timer = Timer(loop: loop)
            timer.start(afterMs: 1000, repeatMs: 1000) { [unowned self] in self.requestSync() }
            timer.unref()
            syncTimer = timer
        }
    }

    /// Queues `record`; `done(true)` once it is durable under the fsync policy.
    func submit(_ record: LogRecord, done: @escaping (Bool) -> Void) {
        record.encode(into: &pendingBytes)
        pending.append((record, done))
        hook?.start()
    }

    /// Calls `completion` once nothing is pending or on disk (shutdown).
    func drain(_ completion: @escaping () -> Void) {
        if pending.isEmpty && !file.isBusy {
            completion()
        } else {
            onIdle = completion
        }
    }

    /// Runs `body` once no write is on disk: at once, or when the current one ends. Until
    /// `body` returns no batch starts, so the file holds exactly what the index holds.
    func whenIdle(_ body: @escaping () -> Void) {
        if file.isBusy {
            betweenBatches = body
        } else {
            body()
        }
    }

    /// Appends to `newFile` from now on (inside `whenIdle`). The old file, already renamed
    /// over, is closed without a sync: its data is in the new file (synced) or unwanted.
    func replaceFile(_ newFile: AppendOnlyFile) {
        precondition(!file.isBusy, "the log file is replaced between batches only")
        file.closeWithoutSync()
        file = newFile
    }

    /// Syncs and closes the file (after `drain`).
    func close() {
        hook?.close()
        hook = nil
        syncTimer?.close()
        syncTimer = nil
        file.closeBlocking()
    }

    private func endOfIteration() {
        hook?.stop()
        startBatch()
    }

    private func startBatch() {
        guard !file.isBusy else { return }
        if let body = betweenBatches {
            betweenBatches = nil
            body()
        }
        if pending.isEmpty {
            if needsSync { return startSync() }
            if let onIdle {
                self.onIdle = nil
                onIdle()
            }
            return
        }
        swap(&pending, &inFlight)
        let bytes = pendingBytes
        pendingBytes.removeAll(keepingCapacity: true)
        file.append(bytes, sync: policy == .always) { [unowned self] error in self.finishBatch(error) }
    }

    private func finishBatch(_ error: UVError?) {
        let batch = inFlight
        inFlight.removeAll(keepingCapacity: true)
        if let error { report(error) }
        if error == nil {
            for entry in batch { apply(entry.record) }
        }
        for entry in batch { entry.done(error == nil) }
        startBatch()
    }

    private func requestSync() {
        needsSync = true
        startBatch()
    }

    private func startSync() {
        needsSync = false
        file.sync { [unowned self] error in
            if let error { self.report(error) }
            self.startBatch()
        }
    }

    private func report(_ error: UVError) {
        Log.error("log write failed, writes answered 503: \(error)")
        if !isWritable && !loggedFailure {
            loggedFailure = true
            Log.error("fdatasync failed: this node refuses writes until it is restarted")
        }
    }
}
