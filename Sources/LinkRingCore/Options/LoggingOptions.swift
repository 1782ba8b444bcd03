// Logging options both executables share: where event lines go, and the optional access log.
// Events go to stderr (one line each, with a level) unless --log-file names a file; SIGHUP
// reopens both files, so logrotate can move them away.

public struct LoggingOptions: Sendable {
    public var logFile: String? = nil
    public var accessLog: String? = nil

    public init() {}

    public static let specs: [OptionSpec] = [
        .value("log-file", "PATH", "write event lines here instead of stderr (reopened on SIGHUP)"),
        .value("access-log", "PATH", "write one buffered line per request here (off by default)"),
    ]

    public mutating func apply(_ parsed: ParsedOptions) throws {
        for name in ["log-file", "access-log"] where parsed.string(name)?.isEmpty == true {
            throw CommandLineError("--\(name) needs a path")
        }
        logFile = parsed.string("log-file")
        accessLog = parsed.string("access-log")
    }
}
