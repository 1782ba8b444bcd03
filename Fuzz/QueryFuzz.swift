// libFuzzer target: the query decoder (short/long rule, percent-decoding, validation).
//
// Properties: an accepted query yields a valid short name and a long URL that passes the
// standard rules; sending the pair again with the long URL wholly percent-encoded (as a form
// does) gives the same pair, and so does sending it as it is (a long URL is kept as sent).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQuery(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = PercentDecoding.decode(bytes, 0..<bytes.count)
    _ = ShortLongQuery.parseShortOnly(bytes, 0..<bytes.count)
    guard case .success(let pair) = ShortLongQuery.parse(bytes, 0..<bytes.count, rules: .standard) else { return 0 }
    precondition(KeyValidation.problem(short: pair.short) == nil && LongURLRules.standard.problem(pair.long) == nil)
    var encoded = Array("short=".utf8)
    PercentDecoding.encode(pair.short, into: &encoded)
    var asSent = encoded + Array("&long=".utf8)
    asSent += pair.long
    encoded += Array("&long=".utf8)
    PercentDecoding.encode(pair.long, into: &encoded)
    for again in [encoded, asSent] {
        guard case .success(let reparsed) = ShortLongQuery.parse(again, 0..<again.count, rules: .standard) else {
            preconditionFailure("a valid pair sent again must parse")
        }
        precondition(reparsed == pair, "sending the pair again changed it")
    }
    return 0
}
