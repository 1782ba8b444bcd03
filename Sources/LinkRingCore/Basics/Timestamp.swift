// ISO 8601 UTC timestamps with milliseconds, for log lines and the log dump.

package enum Timestamp {
    /// "2026-11-24T23:40:56.123Z".
    package static func iso8601(unixMs: Int64) -> String {
        let seconds = unixMs >= 0 ? unixMs / 1000 : (unixMs - 999) / 1000
        let millis = Int(unixMs - seconds * 1000)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = HTTPDate.civilDate(daysSinceEpoch: days)
        return "\(year)-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):"
            + "\(pad(secondOfDay % 60, 2)).\(pad(millis, 3))Z"
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
