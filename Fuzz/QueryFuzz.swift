// libFuzzer target: the query decoder (short/long rule, percent-decoding, validation).
//
// Properties: an accepted query yields a valid short name and long URL; percent-encoding the
// decoded values and parsing `short=…&long=…` again gives the same pair (round trip).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQuery(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = PercentDecoding.decode(bytes, 0..<bytes.count)
    _ = ShortLongQuery.parseShortOnly(bytes, 0..<bytes.count)
    guard case .success(let pair) = ShortLongQuery.parse(bytes, 0..<bytes.count) else { return 0 }
    precondition(KeyValidation.problem(short: pair.short) == nil && KeyValidation.problem(long: pair.long) == nil)
    var again = Array("short=".utf8)
    PercentDecoding.encode(pair.short, into: &again)
    again += Array("&long=".utf8)
    PercentDecoding.encode(pair.long, into: &again)
    guard case .success(let reparsed) = ShortLongQuery.parse(again, 0..<again.count) else {
        preconditionFailure("a re-encoded valid pair must parse")
    }
    precondition(reparsed == pair, "round trip changed the pair")
    return 0
}
