// Logging options both executables share: where event lines go, and the optional access log.
// Events go to stderr (one line each, with a level) unless --log-file names a file; SIGHUP
// reopens both files, so logrotate can move them away.

package struct LoggingOptions: Sendable {
    package var logFile: String? = nil
    package var accessLog: String? = nil

    package init() {}

    static let specs: [OptionSpec] = [
        .value("log-file", "PATH", "write event lines here instead of stderr (reopened on SIGHUP)"),
        .value("access-log", "PATH", "write one buffered line per request here (off by default)"),
    ]

    package mutating func apply(_ parsed: ParsedOptions) throws {
        for name in ["log-file", "access-log"] where parsed.string(name)?.isEmpty == true {
            throw CommandLineError("--\(name) needs a path")
        }
        logFile = parsed.string("log-file")
        accessLog = parsed.string("access-log")
    }
}
