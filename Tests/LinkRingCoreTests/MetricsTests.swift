// The Prometheus text the proxy serves.

import Testing
@testable import LinkRingCore

@Suite("Metrics text")
struct MetricsTests {
    @Test("the histogram renders cumulative buckets in seconds")
    func histogram() {
        var histogram = LatencyHistogram()
        for microseconds: UInt64 in [50, 300, 300, 2_000_000, 9_000_000] { histogram.record(microseconds: microseconds) }
        var text = ""
        histogram.render(name: "t", into: &text)
        #expect(text.contains("t_bucket{le=\"0.0001\"} 1\n") && text.contains("t_bucket{le=\"0.0005\"} 3\n"))
        #expect(text.contains("t_bucket{le=\"2.5\"} 4\n") && text.contains("t_bucket{le=\"+Inf\"} 5\n"))
        #expect(text.contains("t_sum 11.00065\n") && text.contains("t_count 5\n"))
    }

    @Test("JSON and label escaping")
    func escaping() {
        #expect(JSONText.string("a\"b\\c\n\u{1}") == "\"a\\\"b\\\\c\\n\\u0001\"")
        #expect(PrometheusText.label("a\"b\\") == "a\\\"b\\\\")
    }
}
