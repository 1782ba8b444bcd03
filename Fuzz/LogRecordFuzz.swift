// libFuzzer target: log replay over arbitrary bytes (after the file header).
//
// Properties: replay never traps; the records it returns, re-encoded, are exactly the bytes
// they were read from (in order, skipping only reported corrupt ranges); the valid prefix and
// the torn tail cover the file; with skipCorrupt off, a failure names an offset in the file.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLogRecords(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = LogRecord.fileMagic + Array(UnsafeBufferPointer(start: data, count: size))
    var records: [LogRecord] = []
    guard case .success(let report) = LogReplay.replay(bytes, skipCorrupt: true, apply: { records.append($0) }) else {
        preconditionFailure("with skipCorrupt and a good header, replay always succeeds")
    }
    precondition(report.records == records.count && report.validBytes <= bytes.count)
    if let tail = report.tornTail { precondition(tail.lowerBound == report.validBytes && tail.upperBound == bytes.count) }
    var offset = LogRecord.fileMagic.count
    var skipped = report.skipped[...]
    for record in records {
        if let range = skipped.first, range.lowerBound == offset {
            offset = range.upperBound
            skipped = skipped.dropFirst()
        }
        var encoded: [UInt8] = []
        record.encode(into: &encoded)
        precondition(Array(bytes[offset..<offset + encoded.count]) == encoded, "a replayed record does not re-encode to its bytes")
        offset += encoded.count
    }
    if case .failure(let failure) = LogReplay.replay(bytes, skipCorrupt: false, apply: { _ in }) {
        precondition(failure.offset >= LogRecord.fileMagic.count && failure.offset < bytes.count)
    }
    return 0
}
