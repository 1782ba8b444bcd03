// Metrics kept by the proxy and rendered in the Prometheus text format (version 0.0.4).
// Counting is a few integer increments per request; rendering happens only on /_/metrics.

/// A latency histogram with fixed buckets (cumulative when rendered, as Prometheus wants).
package struct LatencyHistogram: Sendable {
    /// Upper bounds in microseconds.
    static let boundsMicroseconds: [UInt64] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000,
                                                      100_000, 250_000, 500_000, 1_000_000, 2_500_000]
    package private(set) var counts = [UInt64](repeating: 0, count: boundsMicroseconds.count + 1)
    private(set) var sumMicroseconds: UInt64 = 0
    package private(set) var total: UInt64 = 0

    package init() {}

    package mutating func record(microseconds: UInt64) {
        var bucket = 0
        while bucket < Self.boundsMicroseconds.count && microseconds > Self.boundsMicroseconds[bucket] { bucket += 1 }
        counts[bucket] += 1
        sumMicroseconds += microseconds
        total += 1
    }

    package func render(name: String, into text: inout String) {
        text += "# HELP \(name) Time from a request's arrival to its answer.\n# TYPE \(name) histogram\n"
        var cumulative: UInt64 = 0
        for (index, bound) in Self.boundsMicroseconds.enumerated() {
            cumulative += counts[index]
            text += "\(name)_bucket{le=\"\(PrometheusText.seconds(microseconds: bound))\"} \(cumulative)\n"
        }
        text += "\(name)_bucket{le=\"+Inf\"} \(total)\n"
        text += "\(name)_sum \(PrometheusText.seconds(microseconds: sumMicroseconds))\n\(name)_count \(total)\n"
    }
}

package enum PrometheusText {
    /// Microseconds as decimal seconds, without Foundation ("0.00025").
    package static func seconds(microseconds: UInt64) -> String {
        let whole = microseconds / 1_000_000
        var fraction = String(microseconds % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
    }

    /// Signed milliseconds in seconds (an offset between two clocks).
    package static func seconds(milliseconds: Int64) -> String {
        (milliseconds < 0 ? "-" : "") + seconds(microseconds: milliseconds.magnitude * 1000)
    }

    /// Escapes a label value (backslash, quote, newline).
    package static func label(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

package enum JSONText {
    /// A JSON string literal.
    package static func string(_ value: String) -> String {
        var escaped = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped + "\""
    }
}
