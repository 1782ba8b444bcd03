// Files: the node's append-only log file and the blocking helpers used at start-up.
//
// `AppendOnlyFile.append` runs on libuv's thread pool as one job (pwrite, then fdatasync when
// asked: `cuv_append_job` in CUV's shim.h) and calls back on the loop, so the loop never waits
// for the disk and is woken once per batch. One operation is in flight at a time (the caller
// batches). With preallocation (the node's log), an append that passes the end of the file
// first writes zeros ahead of it: later appends overwrite blocks that exist, the file's
// length does not change, and their fdatasync flushes data without a journal commit. The
// zeros are given back when the segment is sealed and at a clean close; after a crash, replay
// reads them as the end of the log (docs/DECISIONS.md, "Preallocated log space"). A failed or short write is undone: the file is
// truncated back to where the batch started, so the log never keeps half a batch that was
// never acknowledged. A write that fails with the undo done (a full disk) fails only its batch:
// the next append tries again, so the log recovers by itself once space is freed. The file is
// marked failed for good after an fdatasync failure (the kernel may have dropped the dirty
// pages: retrying could report success for lost data) and after a failed undo (the file may
// end in bytes of a batch answered 503: appending after them would put them in the middle,
// where replay reads them as corruption or, worse, as records). The bytes then stay the tail,
// which replay cuts or keeps like any crash's tail. `closeBlocking` reports a failed final
// fdatasync, so the process can exit non-zero.
//
// The crash-point test hook (`crashAtByte`) exists only when built with the compilation
// condition LINKRING_TEST_HOOKS (debug builds, see Package.swift): release binaries have none.
//
// Start-up helpers (`readWholeFile`, `makeDirectory`, `lockDirectory`, `truncate`) block;
// they run before the loop serves anything.

import CUV
import Glibc

package final class AppendOnlyFile {
    package let path: String
    private let loop: EventLoop
    private let descriptor: Int32
    /// Bytes in the file that are complete (written, and synced when sync was asked): where
    /// the next append goes. With preallocation the file is longer, zeros after this.
    package private(set) var size: Int
    /// The file's length on disk: `size` plus the zeros written ahead of it.
    package private(set) var allocatedBytes: Int
    /// Zeros written ahead at a time (0: none, every append grows the file).
    private let preallocationBytes: Int
    package private(set) var isBusy = false
    /// Set after an fdatasync error or a failed undo; every later append fails.
    package private(set) var failure: UVError? = nil
    #if LINKRING_TEST_HOOKS
    /// TEST HOOK (crash-point tests only): when an append would take the file past this many
    /// bytes, only the bytes up to it are written and the process kills itself with SIGKILL
    /// before anything is synced or acknowledged — a crash that cuts the log at that byte.
    package var crashAtByte: Int? = nil
    #endif

    /// Opens (creating if needed) `path`; appends go after its last byte (`truncating` empties
    /// it first). `preallocationBytes` > 0: an append that passes the end first writes that
    /// many zeros ahead (the node's log segments; docs/DECISIONS.md "Preallocated log space").
    package init(loop: EventLoop, path: String, truncating: Bool = false, preallocationBytes: Int = 0) throws {
        self.loop = loop
        self.path = path
        self.preallocationBytes = preallocationBytes
        descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (truncating ? O_TRUNC : 0), 0o644)
        guard descriptor >= 0 else { throw UVError(-errno, "open \(path)") }
        let end = lseek(descriptor, 0, SEEK_END)
        size = Int(max(end, 0))
        allocatedBytes = size
    }

    /// Appends go at `length` from now on; the bytes after it (zeros written ahead, or the
    /// torn tail of a crash) stay until overwritten (start-up, after replay).
    package func resume(at length: Int) {
        precondition(length <= allocatedBytes && !isBusy)
        size = length
    }

    /// Cuts the file to `length` bytes now (start-up: the torn tail of a log).
    package func truncate(to length: Int) throws {
        guard ftruncate(descriptor, off_t(length)) == 0 else { throw UVError(-errno, "truncate \(path)") }
        size = length
        allocatedBytes = length
        guard fdatasync(descriptor) == 0 else { throw UVError(-errno, "fdatasync \(path) after truncating it") }
    }

    /// Appends now, blocking (start-up only: the file header of a new log).
    package func appendBlocking(_ bytes: [UInt8]) throws {
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(size)) }
        guard written == bytes.count, fdatasync(descriptor) == 0 else { throw UVError(-errno, "write \(path)") }
        size += bytes.count
        allocatedBytes = max(allocatedBytes, size)
    }

    /// How long the last operation ran on the loop, in microseconds; nil when it ran on the pool.
    package private(set) var lastLoopRunUs: UInt64?

    /// Appends `bytes` off the loop; `sync` adds an fdatasync. `completion` runs on the loop
    /// with nil on success. The caller must not start another operation before it runs.
    /// `onLoop`: run it on the loop instead, `completion` before this returns — unless it also
    /// writes zeros ahead, which always goes to the pool (FlushPlacement).
    package func append(_ bytes: [UInt8], sync: Bool, onLoop: Bool = false, completion: @escaping (UVError?) -> Void) {
        start(bytes, sync: sync, trim: false, onLoop: onLoop, completion: completion)
    }

    /// fdatasync off the loop (for `--fsync everysec`).
    package func sync(completion: @escaping (UVError?) -> Void) {
        start([], sync: true, trim: false, onLoop: false, completion: completion)
    }

    /// Gives back the zeros written ahead and fdatasyncs, off the loop: the file is then exactly
    /// its records (a segment being sealed).
    package func trimAndSync(completion: @escaping (UVError?) -> Void) {
        start([], sync: true, trim: allocatedBytes > size, onLoop: false, completion: completion)
    }

    private func start(_ bytes: [UInt8], sync: Bool, trim: Bool, onLoop: Bool, completion: @escaping (UVError?) -> Void) {
        precondition(!isBusy, "one file operation at a time")
        if let failure {
            completion(failure)
            return
        }
        #if LINKRING_TEST_HOOKS
        if let limit = crashAtByte, size + bytes.count > limit { crash(writing: bytes, upTo: limit) }
        #endif
        isBusy = true
        let end = size + bytes.count
        let fillTo = preallocationBytes > 0 && end > allocatedBytes && !trim
            ? (end + preallocationBytes / 2 + preallocationBytes - 1) / preallocationBytes * preallocationBytes : allocatedBytes
        let job = AppendJob(file: self, bytes: bytes, sync: sync, trim: trim, fillTo: fillTo, completion: completion)
        guard onLoop && fillTo == allocatedBytes else {
            lastLoopRunUs = nil
            return job.start()
        }
        let startedNs = MonotonicClock.nowNs()
        job.runHere()
        lastLoopRunUs = (MonotonicClock.nowNs() - startedNs) / 1000
        job.done()
    }

    #if LINKRING_TEST_HOOKS
    /// The crash-point test hook: write up to byte `limit` of the file, then die unsynced.
    private func crash(writing bytes: [UInt8], upTo limit: Int) -> Never {
        let keep = max(0, min(bytes.count, limit - size))
        _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, keep, off_t(size)) }
        kill(getpid(), SIGKILL)
        fatalError("unreachable: SIGKILL")
    }
    #endif

    /// Fails every later append with `error` (the file can no longer be trusted to persist).
    package func markFailed(_ error: UVError) {
        failure = error
    }

    /// Closes without syncing: for a file whose name now belongs to another (a replaced log).
    package func closeWithoutSync() {
        Glibc.close(descriptor)
    }

    /// Gives back the zeros written ahead, syncs and closes, blocking (shutdown). Throws when
    /// the final fdatasync fails: what was written since the last sync may not be on disk.
    package func closeBlocking() throws(UVError) {
        if allocatedBytes > size && ftruncate(descriptor, off_t(size)) == 0 { allocatedBytes = size }
        let synced = fdatasync(descriptor) == 0
        let syncError = errno
        Glibc.close(descriptor)
        guard synced else { throw UVError(-syncError, "fdatasync \(path) at close") }
    }

    fileprivate var loopPointer: UnsafeMutablePointer<uv_loop_t> { loop.loop }
    fileprivate var fileDescriptor: Int32 { descriptor }

    fileprivate func finish(appended: Int, allocatedTo: Int, trimmed: Bool, error: UVError?, isPermanent: Bool) {
        isBusy = false
        if error == nil { size += appended }
        allocatedBytes = trimmed && error == nil ? size : max(allocatedBytes, allocatedTo, size)
        if isPermanent { failure = error }
    }

    /// Cuts the file back to its last complete byte after `cause`; nil if that worked, else
    /// an error naming both (the file may now end in bytes that were never acknowledged).
    fileprivate func undoPartialAppend(after cause: UVError) -> UVError? {
        guard ftruncate(descriptor, off_t(size)) != 0 else {
            allocatedBytes = size
            return nil
        }
        return UVError(-errno, "\(cause); then the undo of the failed write (truncate \(path) back to \(size) bytes)")
    }
}

/// One operation in flight: a `cuv_append_job` (CUV's shim.h) run on libuv's thread pool —
/// trim, zero fill, write, fdatasync, each as asked — then, on the loop, the undo of a failed
/// write (truncate back to the last complete byte) and the completion.
private final class AppendJob {
    let file: AppendOnlyFile
    let completion: (UVError?) -> Void
    let job = UnsafeMutablePointer<cuv_append_job>.allocate(capacity: 1)
    let request = UnsafeMutablePointer<uv_work_t>.allocate(capacity: 1)
    let bytes: UnsafeMutableRawPointer

    init(file: AppendOnlyFile, bytes: [UInt8], sync: Bool, trim: Bool, fillTo: Int, completion: @escaping (UVError?) -> Void) {
        self.file = file
        self.completion = completion
        self.bytes = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        bytes.withUnsafeBytes { if let base = $0.baseAddress { self.bytes.copyMemory(from: base, byteCount: $0.count) } }
        job.initialize(to: cuv_append_job(fd: file.fileDescriptor, bytes: UnsafeRawPointer(self.bytes), count: bytes.count,
                                          offset: Int64(file.size), fill_from: Int64(file.allocatedBytes), fill_to: Int64(fillTo),
                                          sync: sync ? 1 : 0, trim: trim ? 1 : 0, written: 0, failed_step: 0, error: 0, owner: nil))
    }

    /// Queues the job; it keeps itself alive (retained in `owner`) until `done` has run.
    func start() {
        job.pointee.owner = Unmanaged.passRetained(self).toOpaque()
        request.pointee.data = UnsafeMutableRawPointer(job)
        let status = uv_queue_work(file.loopPointer, request, cuv_append_work, appendJobDone)
        guard status == 0 else {
            Unmanaged.passUnretained(self).release()
            return finish(error: UVError(status, "queue a write of \(file.path)"), isPermanent: false, allocatedTo: 0)
        }
    }

    /// Does the job on this thread (the loop), blocking; `done` then finishes it.
    func runHere() {
        request.pointee.data = UnsafeMutableRawPointer(job)
        cuv_append_work(request)
    }

    fileprivate func done() {
        let result = job.pointee
        let operation: String
        switch result.failed_step {
        case 0: return finish(error: nil, isPermanent: false, allocatedTo: Int(result.fill_to))
        case 1: operation = "truncate"
        case 2: operation = "preallocate"
        case 3: operation = "write"
        default: operation = "fdatasync"
        }
        let error = UVError(-result.error, "\(operation) \(file.path)")
        // The kernel may have dropped the dirty pages of a failed fdatasync: the file is not
        // to be trusted again. Anything else is undone and the next batch tries again.
        guard result.failed_step != 4 else { return undo(after: error, isPermanent: true) }
        undo(after: error, isPermanent: false)
    }

    private func undo(after cause: UVError, isPermanent: Bool) {
        if let undoFailure = file.undoPartialAppend(after: cause) { return finish(error: undoFailure, isPermanent: true, allocatedTo: 0) }
        finish(error: cause, isPermanent: isPermanent, allocatedTo: 0)
    }

    private func finish(error: UVError?, isPermanent: Bool, allocatedTo: Int) {
        file.finish(appended: job.pointee.count, allocatedTo: allocatedTo, trimmed: job.pointee.trim != 0, error: error, isPermanent: isPermanent)
        let completion = self.completion
        bytes.deallocate()
        job.deallocate()
        request.deallocate()
        completion(error)
    }
}

private func appendJobDone(_ request: UnsafeMutablePointer<uv_work_t>?, _ status: Int32) {
    let job = request!.pointee.data.assumingMemoryBound(to: cuv_append_job.self)
    Unmanaged<AppendJob>.fromOpaque(job.pointee.owner).takeRetainedValue().done()
}

/// A file opened for reading at any offset: with pread, or (`mappedBytes`) through a read-only
/// shared mapping of its first `mappedBytes`, which reads the page cache with no system call —
/// the node's GET path (docs/DECISIONS.md, "A compact index"). The mapping may be longer than
/// the file (the node's log grows into it); reading a mapped page past the end of the file
/// raises SIGBUS, so callers read only bytes they know are there (a durable record's place).
/// A page not in the cache makes the reading thread wait for the disk, as pread would.
package final class ReadableFile {
    package let path: String
    private var descriptor: Int32
    private var mapping: UnsafeMutableRawPointer?
    private var mappedBytes: Int

    package init(path: String, mappedBytes: Int = 0) throws {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw UVError(-errno, "open \(path)") }
        guard mappedBytes > 0 else {
            mapping = nil
            self.mappedBytes = 0
            return
        }
        let mapped = mmap(nil, mappedBytes, PROT_READ, MAP_SHARED, descriptor, 0)
        guard let mapped, mapped != MAP_FAILED else {
            let error = UVError(-errno, "mmap \(path)")
            Glibc.close(descriptor)
            throw error
        }
        mapping = mapped
        self.mappedBytes = mappedBytes
    }

    /// The descriptor, for a read on the thread pool (FileTasks), which keeps this file alive.
    var descriptorForTasks: uv_file { uv_file(descriptor) }

    deinit {
        if let mapping { munmap(mapping, mappedBytes) }
        if descriptor >= 0 { Glibc.close(descriptor) }
    }

    /// Unmaps now and closes the descriptor on the thread pool (the last close of a replaced
    /// file frees its blocks, which can take milliseconds); every later read fails.
    package func close(on loop: EventLoop) {
        if let mapping { munmap(mapping, mappedBytes) }
        mapping = nil
        mappedBytes = 0
        guard descriptor >= 0 else { return }
        FileTasks.close(loop, descriptor)
        descriptor = -1
    }

    /// `count` bytes from `offset`, or fewer when the file ends first; throws on an I/O error.
    package func read(count: Int, at offset: Int) throws -> [UInt8] {
        try FileSystem.readFully(descriptor, count: count, at: offset, path: path)
    }

    /// Replaces `buffer` with `count` bytes from `offset` (fewer when the file ends first),
    /// reusing its storage: a read of a record allocates nothing once the buffer is big enough.
    package func read(into buffer: inout [UInt8], count: Int, at offset: Int) throws {
        guard descriptor >= 0 else { throw UVError(-9, "read \(path) after it was closed") }
        if let mapping {
            guard offset >= 0, count >= 0, offset + count <= mappedBytes else { throw UVError(-22, "read \(path) past its mapping") }
            buffer.removeAll(keepingCapacity: true)
            buffer.append(contentsOf: UnsafeRawBufferPointer(start: mapping + offset, count: count))
            return
        }
        buffer = try FileSystem.readFully(descriptor, count: count, at: offset, path: path)
    }

    /// The file's size now.
    package func size() throws -> Int {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw UVError(-errno, "stat \(path)") }
        return Int(info.st_size)
    }
}

package enum FileSystem {
    /// The whole file, or an empty array if it does not exist.
    package static func readWholeFile(_ path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { return [] }
            throw UVError(-errno, "open \(path)")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw UVError(-errno, "stat \(path)") }
        return try readFully(descriptor, count: Int(info.st_size), at: 0, path: path)
    }

    /// A text file's contents; throws (naming the file) if it cannot be read.
    package static func readTextFile(_ path: String) throws -> String {
        guard access(path, R_OK) == 0 else { throw UVError(-errno, "read \(path)") }
        return String(decoding: try readWholeFile(path), as: UTF8.self)
    }

    /// Creates `path` and its parents (mode 0755) if missing; throws if it is not a writable
    /// directory (ENOTDIR for a file there: "permission denied" from access(2) hid that).
    package static func makeDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part + "/"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw UVError(-errno, "mkdir \(prefix)") }
        }
        var status = stat()
        guard stat(path, &status) == 0 else { throw UVError(-errno, "data directory \(path)") }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw UVError(-ENOTDIR, "data directory \(path)") }
        guard access(path, W_OK | X_OK) == 0 else { throw UVError(-errno, "data directory \(path)") }
    }

    /// Bytes `range` of the file at `path` (blocking; a short file gives fewer bytes).
    package static func readRange(_ path: String, _ range: Range<Int>) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw UVError(-errno, "open \(path)") }
        defer { close(descriptor) }
        return try readFully(descriptor, count: range.count, at: range.lowerBound, path: path)
    }

    /// Up to `count` bytes from `offset` (fewer if the file ends first).
    fileprivate static func readFully(_ descriptor: Int32, count: Int, at offset: Int, path: String) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            while initialized < count {
                let read = pread(descriptor, buffer.baseAddress! + initialized, count - initialized, off_t(offset + initialized))
                if read < 0 && errno == EINTR { continue }
                if read < 0 { throw UVError(-errno, "read \(path)") }
                if read == 0 { break }
                initialized += read
            }
        }
    }

    /// Renames `source` over `destination` (atomic within a file system).
    package static func rename(_ source: String, to destination: String) throws {
        guard Glibc.rename(source, destination) == 0 else { throw UVError(-errno, "rename \(source) to \(destination)") }
    }

    /// fsyncs a directory, so a rename or a new file in it survives a crash.
    package static func syncDirectory(_ path: String) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw UVError(-errno, "open \(path)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw UVError(-errno, "fsync \(path)") }
    }

    /// Writes `bytes` as the whole file at `path` (a new file synced, renamed over the path, and
    /// the directory synced), so a crash leaves the old file or the new one, never a part.
    package static func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws {
        try writeFileAtomically(path) { write in try write(bytes) }
    }

    /// As `writeFileAtomically(_:_:)`, with the contents written in the chunks `body` passes to
    /// the function it is given (a large file is never whole in memory). Throws, leaving the
    /// old file, if `body` or any step throws; the partial `.new` file is removed.
    /// `syncingEachChunk`: fdatasync after every chunk, so the disk never has a large file's
    /// dirty pages to write at once (a backup's copy: one fsync of 55 MB at the end made a
    /// serving node's own fdatasync on the same disk wait 11 ms).
    package static func writeFileAtomically(_ path: String, syncingEachChunk: Bool = false,
                                            chunks body: ((([UInt8]) throws -> Void)) throws -> Void) throws {
        let temporary = path + ".new"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw UVError(-errno, "create \(temporary)") }
        do {
            defer { close(descriptor) }
            try body { bytes in
                var done = 0
                while done < bytes.count {
                    let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + done, $0.count - done) }
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { throw UVError(written < 0 ? -errno : Int32(UV_EIO.rawValue), "write \(temporary)") }
                    done += written
                }
                if syncingEachChunk && fdatasync(descriptor) != 0 { throw UVError(-errno, "fdatasync \(temporary)") }
            }
            guard fsync(descriptor) == 0 else { throw UVError(-errno, "fsync \(temporary)") }
        } catch {
            try? removeFile(temporary)
            throw error
        }
        try rename(temporary, to: path)
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        try syncDirectory(directory.isEmpty ? "/" : directory)
    }

    /// Writes `bytes` as a new file at `path`, without fdatasync (a file that a crash may lose:
    /// a backup snapshot's listing, which a crash makes worthless anyway).
    package static func writeFileUnsynced(_ path: String, _ bytes: [UInt8]) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw UVError(-errno, "create \(path)") }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw UVError(written < 0 ? -errno : Int32(UV_EIO.rawValue), "write \(path)") }
    }

    /// Removes a file; a missing file is not an error.
    package static func removeFile(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw UVError(-errno, "remove \(path)") }
    }

    /// The names in `directory` (without "." and "..").
    package static func listDirectory(_ directory: String) throws -> [String] {
        guard let handle = opendir(directory) else { throw UVError(-errno, "list \(directory)") }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Whether a file exists at `path`.
    package static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Holds an exclusive lock on `directory/LOCK` for the life of the process, so two nodes
    /// never share a data directory. Throws if another process holds it.
    package static func lockDirectory(_ directory: String) throws {
        guard case .holder(let holder) = try tryLockDirectory(directory, role: "node") else { return }
        throw UVError(-EWOULDBLOCK, "lock \(directory)/LOCK (is another linkring-node using this data directory? "
            + "\(holder.isEmpty ? "" : "held by pid \(holder)"))")
    }

    /// What `tryLockDirectory` found.
    package enum LockAttempt: Equatable {
        /// This process holds the lock until it exits.
        case acquired
        /// Another process holds it; its `PID ROLE` line (empty if a release before it wrote one).
        case holder(String)
    }

    /// Takes the exclusive lock on `directory/LOCK` for the life of the process and writes
    /// `PID ROLE` into it (a backup finds the node to ask there), or says who holds it.
    package static func tryLockDirectory(_ directory: String, role: String) throws -> LockAttempt {
        let path = directory + "/LOCK"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw UVError(-errno, "open \(path)") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? readFully(descriptor, count: 64, at: 0, path: path)) ?? []
            close(descriptor)
            return .holder(String(decoding: holder, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "")
        }
        let line = Array("\(getpid()) \(role)\n".utf8)
        let written = line.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        guard ftruncate(descriptor, off_t(line.count)) == 0, written == line.count else { throw UVError(-errno, "write \(path)") }
        return .acquired
    }

    /// A second name for `existing` (a hard link): the file's data stays while either name does.
    package static func link(_ existing: String, to new: String) throws {
        guard Glibc.link(existing, new) == 0 else { throw UVError(-errno, "link \(existing) to \(new)") }
    }

    /// The size of the file at `path`.
    package static func fileSize(_ path: String) throws -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else { throw UVError(-errno, "stat \(path)") }
        return Int(status.st_size)
    }

    /// Whether `path` is a directory.
    package static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }

    /// Removes an empty directory.
    package static func removeDirectory(_ path: String) throws {
        guard rmdir(path) == 0 else { throw UVError(-errno, "remove \(path)") }
    }

    /// Copies the first `count` bytes of `source` into a new file `destination` (written under
    /// `.new`, renamed), `chunkBytes` at a time, each synced, giving each chunk to `observe` (a
    /// checksum). Throws if `source` is shorter.
    package static func copyPrefix(_ source: String, count: Int, to destination: String, chunkBytes: Int,
                                   observe: ([UInt8]) -> Void) throws {
        let input = try ReadableFile(path: source)
        try writeFileAtomically(destination, syncingEachChunk: true) { write in
            var offset = 0
            while offset < count {
                let chunk = try input.read(count: min(chunkBytes, count - offset), at: offset)
                guard !chunk.isEmpty else { throw UVError(Int32(UV_EIO.rawValue), "read \(source): it ends at byte \(offset), \(count) expected") }
                observe(chunk)
                try write(chunk)
                offset += chunk.count
            }
        }
    }
}
