// Every limit of LinkRing in one place, each named with its unit last (TigerBeetle style).
//
// The constants are the defaults; `ServerLimits` carries the ones an operator may change on the
// command line (time-outs and the connection cap), so tests can run them small and fast.

public enum Limits {
    /// Request line (method, target, version) without its line end; longer gets 414.
    public static let requestLineBytesMax = 8 * 1024
    /// Header block after the request line, line ends included; longer gets 431.
    public static let headerBytesMax = 32 * 1024
    /// Header fields in one request; more gets 431.
    public static let headerFieldsMax = 100
    /// Request body; longer gets 413.
    public static let bodyBytesMax = 64 * 1024
    /// Short name, after percent-decoding.
    public static let shortBytesMax = 128
    /// Long URL as stored: as sent, or once decoded when it arrived wholly percent-encoded.
    public static let longBytesMax = 4096
    /// Input a connection buffers (pipelined requests) before it stops reading from its socket.
    public static let connectionInputBytesMax = 256 * 1024
    /// Output a connection queues before it stops reading new requests (back-pressure).
    public static let connectionOutputBytesMax = 1024 * 1024
    /// A connection's emptied input or output buffer keeps its memory up to this size (reused
    /// by the next request); a larger one is given back.
    public static let connectionBufferKeptBytesMax = 64 * 1024
    /// Answers a connection may owe at once (handlers that answer later, concurrently).
    public static let pipelinedAnswersMax = 128
    /// Bytes of one log record's key/value sizes accepted by replay; larger means corruption.
    public static let logRecordBytesMax = 64 * 1024
    /// How long a closing connection keeps draining client bytes before it is closed hard.
    public static let lingerTimeoutMs: UInt64 = 2_000
    // The periodic duties of the processes' one cron (LinkRingServer's `Cron`,
    // docs/DECISIONS.md "One cron per process"). Periods set by options (--sync-interval-ms,
    // --ping-interval-ms, --status-interval-s) are registered with the same cron.
    /// The HTTP server's housekeeping: connection time-outs and the cached Date header.
    public static let serverHousekeepingIntervalMs: UInt64 = 100
    /// A node's check of its repair requests' deadlines (anti-entropy with its peers).
    public static let peerDeadlineCheckIntervalMs: UInt64 = 100
    /// The proxy's check of its node requests' deadlines.
    public static let nodeDeadlineCheckIntervalMs: UInt64 = 50
    /// A node's check whether its log is due for compaction (CompactionPolicy).
    public static let compactionCheckIntervalMs: UInt64 = 1_000
    /// The commit log's fdatasync under `--fsync everysec`.
    public static let everysecSyncIntervalMs: UInt64 = 1_000
    /// The access log's flush of its buffered lines (sooner when the buffer fills).
    public static let accessLogFlushIntervalMs: UInt64 = 1_000
    /// How far ahead of the receiver's wall clock a version may be (default of --clock-skew-ms).
    public static let clockSkewMsDefault: UInt64 = 1_000
    /// The largest --clock-skew-ms an operator may set (a minute: NTP keeps hosts far closer).
    public static let clockSkewMsMax: UInt64 = 60_000
    /// A failure that repeats (a full disk refusing every batch, accept out of descriptors) is
    /// logged when it starts, then as at most one summary line with a count per this period.
    public static let repeatedFailureLogIntervalMs: UInt64 = 10_000
    /// After accept fails (out of descriptors or memory) the listener pauses this long before
    /// trying again; new clients wait in the kernel's backlog meanwhile.
    public static let acceptRetryDelayMs: UInt64 = 100
    /// Connections accepted per wake-up of a listener, so a connect storm cannot starve the loop.
    public static let acceptsPerWakeupMax = 64
    /// Bytes of a node's refusal sentence (a 422 body) the proxy quotes in its log line.
    public static let quotedReasonBytesMax = 300
}

/// The limits an operator can tune; defaults are production values.
public struct ServerLimits: Sendable, Equatable {
    /// A request whose head is not complete this long after its first byte gets 408 and is closed.
    public var headerTimeoutMs: UInt64 = 10_000
    /// A keep-alive connection with no request in progress is closed after this long.
    public var idleTimeoutMs: UInt64 = 60_000
    /// Open client connections; beyond it new ones get a 503 and are closed at once.
    public var connectionsMax: Int = 10_000

    public init() {}
}

/// The limits that must fit each other for a cluster to work, checked at start-up: a
/// configuration that breaks one is refused with the reason, instead of failing every repair.
public enum ClusterLimits {
    /// Nil when a ring of `nodes` nodes × `vnodes` virtual nodes works within the limits.
    public static func problem(nodes: Int, vnodes: Int) -> String? {
        let ranges = nodes * vnodes
        let digestsBytes = SyncCodec.digestsBytes(rangeCount: ranges)
        if digestsBytes > HTTPResponseParser.bodyBytesMax {
            return "\(nodes) nodes × \(vnodes) vnodes make \(ranges) key ranges: their digests (\(digestsBytes) bytes) would not fit "
                + "a node's answer (\(HTTPResponseParser.bodyBytesMax) bytes). Use fewer --vnodes (at most "
                + "\(HTTPResponseParser.bodyBytesMax / 8 / max(nodes, 1) - 1) for \(nodes) nodes)."
        }
        return nil
    }

    /// Relations between fixed limits, each false one named (a unit test asserts there are none).
    public static func brokenRelations() -> [String] {
        var broken: [String] = []
        let keyEntryBytesMax = SyncCodec.keyEntryHeaderBytes + Limits.shortBytesMax
        if 4 + SyncCodec.keysPerPage * keyEntryBytesMax > HTTPResponseParser.bodyBytesMax {
            broken.append("a full /_/keys page exceeds the answer limit")
        }
        let recordBytesMax = LogRecord.encodedBytes(keyBytes: Limits.shortBytesMax, valueBytes: Limits.longBytesMax)
        if SyncCodec.recordsPerRequest * recordBytesMax > HTTPResponseParser.bodyBytesMax {
            broken.append("a full /_/records answer exceeds the answer limit")
        }
        if SyncCodec.recordsPerRequest * (2 + Limits.shortBytesMax) > Limits.bodyBytesMax {
            broken.append("a full /_/records request exceeds the request body limit")
        }
        if Limits.longBytesMax > Limits.bodyBytesMax { broken.append("an internal PUT body exceeds the request body limit") }
        if max(Limits.shortBytesMax, Limits.longBytesMax) > Limits.logRecordBytesMax {
            broken.append("a record's key or value exceeds what replay accepts")
        }
        return broken
    }
}
