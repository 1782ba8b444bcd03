// Event log lines for operators: `2026-11-24T23:40:56.123Z INFO message`, one per event, to
// stderr. Nothing logs per request (that would cost more than the request).

import LinkRingCore
import LinkRingUV

public enum Log {
    public enum Level: String, Sendable {
        case debug = "DEBUG", info = "INFO", warning = "WARN", error = "ERROR"
    }

    public static func info(_ message: String) { write(.info, message) }
    public static func warning(_ message: String) { write(.warning, message) }
    public static func error(_ message: String) { write(.error, message) }

    public static func write(_ level: Level, _ message: String) {
        Output.printError("\(Timestamp.iso8601(unixMs: WallClock.nowMs())) \(level.rawValue) \(message)")
    }
}
