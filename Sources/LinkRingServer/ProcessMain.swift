// The outer shape both executables share: parse the command line, serve, exit.
//
//   exit 0  after --help, or after a clean stop (SIGTERM/SIGINT)
//   exit 2  a bad command line: the message and one line pointing to --help, on stderr (the
//           whole usage would push the cause out of sight, or out of a script's `tail` of the log)
//   exit 1  start-up failed (data directory, port in use, corrupt log, …), or the stop did
//           (the node's final fdatasync of its log)

import LinkRingCore
import LinkRingUV

package enum ProcessMain {
    /// `parse` returns nil for --help; `serve` returns when the process has stopped cleanly.
    package static func run<Options>(name: String, usage: String, parse: () throws -> Options?,
                                    serve: (Options) throws -> Void) -> Never {
        ProcessSetup.prepare()
        let options: Options
        do {
            guard let parsed = try parse() else {
                Output.printLine(usage)
                ProcessSetup.exit(0)
            }
            options = parsed
        } catch {
            Output.printError("\(name): \(error)\n\(helpHint(name))")
            ProcessSetup.exit(2)
        }
        do {
            try serve(options)
        } catch {
            Output.printError("\(name): \(error)")
            ProcessSetup.exit(1)
        }
        ProcessSetup.exit(0)
    }

    /// The one line after an argument error.
    package static func helpHint(_ name: String) -> String { "Run '\(name) --help' for the options." }
}
