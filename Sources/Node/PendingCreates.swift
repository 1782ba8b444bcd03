// Create-only writes (`if=absent`, and a lone node's own creates) that the node accepted and
// whose log batch is not yet durable. The index holds durable data only, so without this a
// second create of the same name arriving within one commit window (the fdatasync of the first)
// would find the name free too, and two writers would both be told they made it. With it the
// second is answered 412 with the first one's value, exactly as if the first were durable.
//
// At most one create per key is pending (a second one is refused while it is), so this is a
// map from key to record. An entry leaves when its batch settles, durable or failed; a failed
// batch frees the name again. Ordinary PUTs are not recorded: they overwrite by design, and a
// create racing one within a commit window is ordered by versions like any two writes
// (docs/DECISIONS.md "Create-only writes").

import LinkRingCore

final class PendingCreates {
    private var records: [[UInt8]: LogRecord] = [:]

    /// The create of `key` on its way to the log, if there is one.
    func record(for key: [UInt8]) -> LogRecord? { records[key] }

    func begin(_ record: LogRecord) {
        assert(records[record.key] == nil, "one pending create per key")
        records[record.key] = record
    }

    func end(_ record: LogRecord) {
        if records[record.key]?.version == record.version { records[record.key] = nil }
    }

    var count: Int { records.count }
}
