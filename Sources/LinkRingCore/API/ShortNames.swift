// Generated short names: `Limits.generatedNameCharacters` (7) characters of base62
// (`0-9 A-Z a-z`), drawn from a cryptographically secure generator, so nobody can guess the
// next name someone else will get. Swift's `SystemRandomNumberGenerator` is that generator
// (getrandom(2) on Linux); tests inject their own.
//
// A generated name is never checked against the data before it is written: it is written
// create-only (docs/DECISIONS.md "Create-only writes"), so a name that exists answers 412 and
// the writer draws another, at most `Limits.generatedNameAttemptsMax` times. With 62^7 ≈ 3.5e12
// names, a million links make a clash one draw in 3.5 million.

package enum ShortNames {
    package static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// The largest multiple of 62 that fits a byte: bytes at or above it are drawn again, so
    /// every character is equally likely (no modulo bias).
    private static let unbiasedBytesEnd = 62 * 4

    /// A new name from the system's cryptographically secure generator.
    package static func generate() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    package static func generate<Generator: RandomNumberGenerator>(using generator: inout Generator) -> [UInt8] {
        var name: [UInt8] = []
        name.reserveCapacity(Limits.generatedNameCharacters)
        while name.count < Limits.generatedNameCharacters {
            var word = generator.next()
            for _ in 0..<8 where name.count < Limits.generatedNameCharacters {
                let byte = Int(word & 0xFF)
                word >>= 8
                if byte < unbiasedBytesEnd { name.append(alphabet[byte % 62]) }
            }
        }
        return name
    }

    /// The first generated name that `isTaken` does not know, within the attempt limit; nil when
    /// every draw was taken (a lone node checks its own index this way).
    package static func firstUnused<Generator: RandomNumberGenerator>(using generator: inout Generator,
                                                                      isTaken: ([UInt8]) -> Bool) -> [UInt8]? {
        for _ in 0..<Limits.generatedNameAttemptsMax {
            let name = generate(using: &generator)
            if !isTaken(name) { return name }
        }
        return nil
    }
}
