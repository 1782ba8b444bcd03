// A small command-line option parser for both executables: `--name VALUE`, `--name=VALUE`
// and `--flag`. Unknown options, missing values and repeated options are errors with a clear
// message; the executable prints it with its usage and exits non-zero.

package struct OptionSpec: Sendable {
    package var name: String
    var valueName: String?
    package var help: String

    /// An option that takes a value (`--name VALUE`).
    package static func value(_ name: String, _ valueName: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, valueName: valueName, help: help)
    }

    /// A flag without a value (`--name`).
    static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, valueName: nil, help: help)
    }
}

package struct CommandLineError: Error, Sendable, Equatable, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

package struct ParsedOptions: Sendable {
    package var values: [String: String] = [:]
    package var flags: Set<String> = []
    var positional: [String] = []

    package func has(_ flag: String) -> Bool { flags.contains(flag) }

    package func string(_ name: String) -> String? { values[name] }

    func integer(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw CommandLineError("--\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return value
    }
}

package enum CommandLineOptions {
    package static func parse(_ arguments: [String], specs: [OptionSpec]) throws -> ParsedOptions {
        var parsed = ParsedOptions()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                parsed.positional.append(argument)
                continue
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String? = nil
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw CommandLineError("unknown option --\(name)")
            }
            if parsed.values[name] != nil || parsed.flags.contains(name) {
                throw CommandLineError("--\(name) is given more than once")
            }
            guard spec.valueName != nil else {
                if inlineValue != nil { throw CommandLineError("--\(name) takes no value") }
                parsed.flags.insert(name)
                continue
            }
            if let inlineValue {
                parsed.values[name] = inlineValue
            } else {
                guard index < arguments.count else { throw CommandLineError("--\(name) needs a value") }
                parsed.values[name] = arguments[index]
                index += 1
            }
        }
        return parsed
    }

    /// The usage text: a synopsis, then one line per option.
    package static func usage(synopsis: String, specs: [OptionSpec]) -> String {
        var text = "usage: \(synopsis)\n\noptions:\n"
        for spec in specs {
            var left = "  --\(spec.name)"
            if let valueName = spec.valueName { left += " \(valueName)" }
            let padding = String(repeating: " ", count: max(2, 34 - left.count))
            text += left + padding + spec.help + "\n"
        }
        return text
    }
}

extension String {
    func trimmingSpaces() -> String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text = text.dropLast() }
        return String(text)
    }
}
