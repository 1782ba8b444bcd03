// libFuzzer target: the HTTP request parser and the public-API interpretation.
//
// Properties checked on every input (a violation traps, so libFuzzer reports it):
//   - parsing the input whole and split in two (at a point derived from the input) agree;
//   - a parsed head's ranges lie inside the input;
//   - whatever a request is interpreted as, a stored long URL passes the standard rules and
//     has no control byte or space, its Location form holds no byte a URI may not hold raw
//     (nothing can break or smuggle into a header line), and a short name is valid.
// Built by scripts/fuzz.bash together with Sources/LinkRingCore (one module).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var whole = HTTPRequestParser()
    let start = HTTPRequestParser.skipEmptyLines(bytes, from: 0, to: bytes.count)
    guard start < bytes.count else { return 0 }
    let result = whole.parse(bytes, from: start, to: bytes.count)
    let split = bytes.isEmpty ? 0 : Int(bytes[bytes.count - 1]) % (bytes.count - start + 1)
    var incremental = HTTPRequestParser()
    var second = incremental.parse(bytes, from: start, to: start + split)
    if second == .needMore { second = incremental.parse(bytes, from: start, to: bytes.count) }
    precondition(second == result, "split parse differs from whole parse")
    guard case .head(let head) = result else { return 0 }
    precondition(head.target.lowerBound >= start && head.target.upperBound <= bytes.count && head.bodyStart <= bytes.count)
    let body = head.bodyStart..<min(bytes.count, head.bodyStart + head.contentLength)
    switch PublicRequest.interpret(head, bytes, body: body, rules: .standard) {
    case .put(let pair):
        precondition(KeyValidation.problem(short: pair.short) == nil && LongURLRules.standard.problem(pair.long) == nil)
        precondition(!pair.long.contains(where: { $0 == ASCII.cr || $0 == ASCII.lf || $0 == ASCII.space }))
        let location = LocationBytes.encoded(pair.long)
        precondition(!location.contains(where: { $0 <= ASCII.space || $0 >= ASCII.del || $0 == ASCII.quote || $0 == ASCII.lessThan }))
    case .get(let short, _), .delete(let short):
        precondition(KeyValidation.problem(short: short) == nil)
    case .operatorRoute(let path, let query):
        precondition(path.upperBound <= bytes.count && (query?.upperBound ?? 0) <= bytes.count)
    case .reject(let failure), .formRejected(_, let failure):
        precondition(!failure.reason.isEmpty)
    case .create(let create):
        precondition(LongURLRules.standard.problem(create.long) == nil)
        precondition(create.short.map { KeyValidation.problem(short: $0) == nil } ?? true)
    case .home, .fixed:
        break
    }
    return 0
}
