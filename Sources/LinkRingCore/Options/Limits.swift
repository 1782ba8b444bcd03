// Every limit of LinkRing in one place, each named with its unit last and its qualifier after
// it (`…BytesMax`, `…MsMax`, `…MsDefault`, `…MsRange`: TigerBeetle style).
//
// Sections: HTTP, connections, log and replay, repair, proxy and health, periods and
// deadlines, then the options' defaults and accepted ranges. Code names these directly
// (`Limits.repairKeysPerPage`), never under a second name. Format constants (magic bytes, bit widths,
// the ring's probes per key) stay beside their format. `ServerLimits` carries the limits an
// operator may change on the command line, so tests can run them small and fast;
// `ClusterLimits` refuses at start-up what cannot work together.

package enum Limits {
    // MARK: HTTP: what a request or an answer may hold

    /// Request line (method, target, version) without its line end; longer gets 414.
    static let requestLineBytesMax = 8 * 1024
    /// Header block after the request line, line ends included; longer gets 431.
    static let headerBytesMax = 32 * 1024
    /// Header fields in one request; more gets 431.
    static let headerFieldsMax = 100
    /// Request body; longer gets 413.
    static let bodyBytesMax = 64 * 1024
    /// Short name, after percent-decoding.
    package static let shortBytesMax = 128
    /// Long URL as stored: as sent, or once decoded when it arrived wholly percent-encoded.
    package static let longBytesMax = 4096
    /// Status line and headers of a node's answer, as the proxy and the peers read it.
    static let answerHeadBytesMax = 64 * 1024
    /// Body of a node's answer (repair pages and records are the largest).
    static let answerBodyBytesMax = 1024 * 1024
    /// The shared secret of `--cluster-token` (sent on every internal request).
    static let clusterTokenBytesMax = 256

    // MARK: Browser pages, generated names, create-only writes (issue 17)

    /// Body of a `POST /` form (long URL, short name, token and their escapes); larger gets 413
    /// with the form page again.
    package static let formBodyBytesMax = 16 * 1024
    /// Characters of a generated short name (base62: 62^7 ≈ 3.5 × 10^12 names).
    package static let generatedNameCharacters = 7
    /// Names tried for one generated-name create before giving up with 503 (each clash with a
    /// live name costs one more try; at a million links a clash is one try in 3.5 million).
    package static let generatedNameAttemptsMax = 8
    /// The shared secret of `--write-token` (compared in constant time on every write).
    static let writeTokenBytesMax = 256
    /// `--public-url`: the scheme, host and optional port and path prefix short URLs start with.
    static let publicURLBytesMax = 256
    /// A `Host` header longer than this is not used to build short URLs (the listen address is).
    package static let hostHeaderBytesMax = 255
    /// How often the operator dashboard (`GET /_/`) reads /_/status and /_/metrics, and the
    /// window its rates and latency percentiles cover.
    package static let dashboardRefreshMs = 1_500
    package static let dashboardWindowMs = 60_000

    // MARK: Connections

    // A client connection's memory is bounded by what it is doing, not by what its client
    // sends (docs/DECISIONS.md "Back-pressure and memory per connection"): unparsed input up to
    // `connectionInputBytesMax` (plus one read, `EventLoop.readBufferBytes`, and at most one
    // request of the sizes above when it arrives whole), answers not yet sent up to
    // `connectionOutputBytesMax` (plus the one answer that crossed it), and at most
    // `connectionAnswersOwedMax` answers owed. About 256 KiB in all (`connectionBytesMax`).
    /// Unparsed input a connection reads ahead while it cannot parse (answers owed, output
    /// full); past it the connection stops reading from its socket until the answers drain.
    package static let connectionInputBytesMax = 64 * 1024
    /// Answers a connection holds unsent (written but queued, or answered and waiting behind
    /// an earlier answer); past it the connection parses no more requests until they drain.
    package static let connectionOutputBytesMax = 64 * 1024
    /// What the three limits above add up to, with one read: the memory budget of a connection.
    package static let connectionBytesMax = 256 * 1024
    /// Answers a connection may owe at once (handlers that answer later, concurrently); past
    /// it parsing waits.
    package static let connectionAnswersOwedMax = 128
    /// Requests one connection has handled in one loop turn before the rest of its pipeline
    /// waits for the next turn, other connections served meanwhile (HTTPServer's next-turn
    /// work): one client's 30,000 pipelined GETs held a node's loop up to 76 ms in one turn
    /// (another client's p99 5.5 ms, p50 0.13 ms). About 0.5 ms of a node's loop.
    package static let connectionRequestsPerTurnMax = 256
    /// A connection's emptied input or output buffer keeps its memory up to this size while
    /// the connection is busy (reused by the next request); a larger one is given back at once.
    package static let connectionBufferKeptBytesMax = 64 * 1024
    /// A connection with no request in progress for this long gives its buffers back.
    package static let connectionBufferReleaseIdleMs: UInt64 = 1_000
    /// Consumed input a connection keeps in front of unparsed bytes before moving them down.
    package static let connectionInputConsumedBytesMax = 32 * 1024
    /// At --max-connections, a connection idle (no request begun, nothing owed or unsent) at
    /// least this long is closed to admit a new one, the longest idle first.
    package static let idleConnectionEvictionMsMin: UInt64 = 1_000
    /// After this many client connections closed, the process gives freed heap memory back to
    /// the system (malloc_trim), at most once per `memoryTrimIntervalMs`.
    package static let closedConnectionsPerMemoryTrim = 64
    /// The shortest time between two trims of the heap (a trim walks the free lists).
    package static let memoryTrimIntervalMs: UInt64 = 1_000
    /// Connections past `--max-connections` that may wait at once for their 503 to be written.
    package static let rejectedConnectionsMax = 1024
    /// Connections the admin listener (--admin-listen) serves at once, at most --max-connections:
    /// enough for operators and scrapers, and a flood of it cannot take the clients' descriptors.
    /// Its own budget, so a flood of clients cannot lock the operators out either.
    package static let adminConnectionsMax = 64
    /// Connections the kernel holds for a listener before it accepts them (listen's backlog,
    /// capped by net.core.somaxconn).
    package static let listenBacklogMax = 511
    /// Connections accepted per wake-up of a listener, so a connect storm cannot starve the loop.
    package static let acceptsPerWakeupMax = 64
    /// After accept fails (out of descriptors or memory) the listener pauses this long before
    /// trying again; new clients wait in the kernel's backlog meanwhile.
    package static let acceptRetryDelayMs: UInt64 = 100
    /// How long a closing connection keeps draining client bytes before it is closed hard.
    package static let lingerTimeoutMs: UInt64 = 2_000

    // MARK: Log and replay

    /// Bytes of one log record's key/value sizes accepted by replay; larger means corruption.
    static let logRecordBytesMax = 64 * 1024
    /// Bytes of one log file (a segment): the index's record offsets are 32 bits
    /// (RecordLocation), so a batch that would take the file past this is refused (503).
    package static let segmentBytesMax = Int(UInt32.max)
    /// --segment-bytes default: the active segment is sealed and a new one started once it
    /// is this long. A compaction rewrites one segment at a time, and holds 16 bytes per live
    /// record of it (the moves) until its entries are relocated.
    static let segmentBytesDefault = 256 * 1024 * 1024
    /// --segment-bytes (tests use small segments).
    static let segmentBytesRange = (64 * 1024)...(segmentBytesMax / 2)
    /// Zeros the log writes ahead of its active segment's end at a time: a batch then
    /// overwrites blocks that exist and its fdatasync needs no journal commit (the file's
    /// length does not change); one batch per this many bytes pays for the next stretch.
    /// Given back when a segment is sealed and at a clean stop (docs/DECISIONS.md,
    /// "Preallocated log space").
    package static let logPreallocationBytes = 1024 * 1024
    /// A log batch (write + fdatasync) run on the loop is slow past this; `loopFlushSlowBatchesMax`
    /// slow ones within `loopFlushSlowWindowMs` move batches to the thread pool for
    /// `poolFlushStayMs` (FlushPlacement).
    package static let loopFlushMaxMs: UInt64 = 10
    package static let loopFlushSlowBatchesMax = 3
    package static let loopFlushSlowWindowMs: UInt64 = 1_000
    /// How long batches stay on the thread pool after a slow one on the loop.
    package static let poolFlushStayMs: UInt64 = 5_000
    /// After a failed roll-over (a full disk) the log appends to its active segment this long
    /// before trying again.
    package static let rollOverRetryDelayMs: UInt64 = 1_000
    /// Segments a node holds at most (index ids are 16 bits, and each maps its file).
    package static let segmentsMax = 60_000
    /// Index entries a compaction points at their new places per loop turn (each a probe of
    /// the table, a cache miss at 1M keys: about 200 ns, so about 1 ms a turn).
    package static let compactionRelocationsPerTurn = 4_096
    /// Index entries a hint written after a compaction takes per loop turn (about 28 bytes and
    /// 20 ns each), before its chunk is written on the thread pool.
    package static let hintEntriesPerTurn = 32_768
    /// Bytes replay reads from the log at a time: start-up memory beyond the index is about
    /// this, whatever the log's size (plus one record, which may straddle two chunks).
    package static let replayChunkBytes = 4 * 1024 * 1024
    /// Bytes of a hint file written or read at a time (HintFile).
    package static let hintChunkBytes = 1024 * 1024
    /// Bytes of a segment a compaction reads (on the thread pool) and sifts per loop turn (its
    /// kept records are then appended on the thread pool, one append per slice). Sifting costs
    /// about 300 ns per record on the loop (decode, hash, index probe): about 1.3 ms a slice.
    package static let compactionSliceBytes = 256 * 1024
    /// After a failed compaction (a full disk) the next attempt waits this long.
    package static let compactionRetryDelayMs: UInt64 = 60_000
    /// The access log writes its buffered lines once they reach this size (or on its period).
    package static let accessLogFlushBytes = 64 * 1024
    /// Access log lines buffered while a write is in flight; past it lines are dropped, counted.
    package static let accessLogBufferBytesMax = 1024 * 1024
    /// `linkring-node dump` prints its text in chunks of about this size.
    package static let dumpChunkBytes = 64 * 1024

    // MARK: Repair (anti-entropy between nodes)

    /// Keys of one range in one `/_/keys` page.
    package static let repairKeysPerPage = 1_000
    /// Keys asked for in one `/_/records` request (and records in its answer).
    package static let repairRecordsPerRequest = 100
    /// A repair turn pages a range only if its digests differ in two compares this far apart
    /// (DifferingRanges): a write in flight settles within it.
    package static let repairConfirmDelayMs: UInt64 = 200
    /// Rounds a recovering node tries before it serves without a full first round.
    package static let recoveryAttemptsMax = 5
    /// Pause between a recovering node's failed round and its next.
    package static let recoveryRetryDelayMs: UInt64 = 500
    /// Bytes of a peer's failure answer quoted in the node's log line.
    package static let quotedPeerAnswerBytesMax = 200

    // MARK: Proxy and node health

    /// Attempts of one write: a replica holding a newer version answers 409, and the write is
    /// re-minted above it and sent again. Each attempt is one round trip (about a millisecond);
    /// 3 ran out under the fault suite's `sameid` load (two proxies with one id, four clients,
    /// four keys, PUTs racing DELETEs that take two rounds), so a few more.
    package static let writeAttemptsMax = 8
    /// The restart command's first retry waits at least this long (a small --restart-after-ms).
    package static let restartBackoffMsMin: UInt64 = 250
    /// The restart command's retries back off, doubling, up to this.
    package static let restartBackoffMsMax: UInt64 = 60_000
    /// Bytes of a node's refusal sentence (a 422 body) the proxy quotes in its log line.
    static let quotedReasonBytesMax = 300
    /// Slow and frozen nodes (SlowNodeRules.swift): a request is late after twice its node's
    /// p99 latency, at least this many milliseconds…
    package static let lateAfterMsMin = 10
    /// …and at most this many (well below --node-timeout-ms: a read hedged then still
    /// answers within a quarter of a second).
    package static let lateAfterMsMax = 100
    /// The window, in milliseconds, over which a node's p99 latency is measured.
    package static let latencyWindowMs: UInt64 = 1_000
    /// Answers a window needs before its p99 replaces the previous one.
    static let latencySamplesMin: UInt32 = 20
    /// Hedged reads that may go out at once (the budget's burst)…
    static let hedgeBurstMax = 200
    /// …and the tenths of a hedge each read earns: at most one read in ten is hedged for long.
    static let hedgeTenthsPerRead = 1
    /// How often, in milliseconds, the proxy looks for late node requests.
    package static let lateCheckIntervalMs: UInt64 = 5
    /// Writes a proxy holds while it learns the nodes' clocks (its first ping round, normally
    /// one round trip after start-up); past it a write answers 503 at once. Each held write
    /// keeps its request (at most `requestBytesMax`), so this bounds the memory too.
    package static let writesAwaitingClockMax = 1_024
    /// Keys a proxy remembers a partially acknowledged write of (PartialWrites.swift), each
    /// with its read floor…
    package static let partialWriteFloorsMax = 65_536
    /// …for this many milliseconds: well past a restarted node's recovery pull and several
    /// repair rounds (--sync-interval-ms, 5 s by default), after which every replica has it.
    package static let partialWriteFloorMs: UInt64 = 60_000

    // MARK: Names in the hosts file (NameRecord.swift)

    /// A host name's address is used at most this long after the lookup that gave it.
    package static let resolvedAddressLifetimeMs: UInt64 = 60_000
    /// A host name is looked up again in the background this long after its last answer; the
    /// address it had serves meanwhile, until a new answer or the end of its lifetime.
    package static let resolvedAddressRefreshMs: UInt64 = 30_000
    /// After a failed lookup, the name's next lookup waits this long.
    package static let nameRetryDelayMs: UInt64 = 1_000
    /// A lookup still unanswered this long counts as a failure: connections to the name's node
    /// fail at once (the node goes down) instead of waiting for the resolver.
    package static let nameLookupSlowMs: UInt64 = 1_000
    /// At start-up and on a SIGHUP reload, how long a process waits for the hosts file's names
    /// to answer before it checks them for aliases and goes on without the ones still silent.
    package static let hostsNamesWaitMs: UInt64 = 2_000

    // MARK: Membership change (Membership.swift, Placement.swift, the node's Handoff)

    /// Digits of a hosts file's `generation N` (any number below 10^18).
    static let generationDigitsMax = 18
    /// Older memberships a process keeps while their data still moves (a second change before
    /// the first completed keeps both); beyond it the oldest is dropped, with a warning.
    package static let membershipsMovingMax = 4
    /// Index slots a re-partitioning's snapshot copies per piece on the loop (about 1 ms under
    /// load): taken whole at a change, the snapshot held the loop 4–22 ms at 600k keys, at
    /// every node at once; in pieces of 65,536, 3–4 ms each.
    package static let partitionSnapshotSlotsPerTurn = 16_384
    /// Index slots a re-partitioning's apply walks per piece (KeyValueIndex.continuePartition):
    /// in one pass it held every node's loop 20–60 ms at once at 600k keys (the slowest second
    /// of every move, p99 about 30 ms).
    package static let partitionApplySlotsPerTurn = 16_384
    /// Keys whose ranges one thread-pool job of a re-partitioning looks up (7–13 ms of a pool
    /// thread under load at 1M keys: 115–215 ms in 15–17 jobs, the nodes' own log line).
    package static let partitionLookupKeysPerJob = 32_768
    /// The share of the time a re-partitioning's pieces take, on the loop and on the pool
    /// (DutyCycle): every node re-partitions at the same moment, and at full speed five nodes
    /// took more than a core of two for a few hundred ms (the slowest second of every move).
    /// At 1M keys a node's re-partitioning then lasts about a second instead of 0.2–0.3 s (at
    /// 10 %, 1.5–2.5 s: the change's own second as good, the change a second longer).
    package static let partitionDutyPercent: UInt64 = 20
    /// Milliseconds between the starts of two nodes' re-partitionings at a change: the node at
    /// position i of the membership (every process reads the same hosts file) begins
    /// (i mod `partitionStaggerSteps`) times this after it adopted the change, so that not every
    /// node takes its share of the CPU in the same few hundred ms (DutyCycle.staggerMs). The
    /// last begins at most a second after the first, however many nodes there are.
    package static let partitionStaggerMs: UInt64 = 250
    package static let partitionStaggerSteps = 5
    /// Loop time a node's handoff spends scanning its keys per tick of its duty (each key costs
    /// an older-ring lookup and a table read, HandoffPlans; a key that goes, a log read): at
    /// most a fifth of the loop. 400 µs changed nothing measurable in a remove's first seconds
    /// at 1M keys, and the sanitizer build's remove test once missed its 30 s with it.
    package static let handoffScanMicrosecondsPerTick: UInt64 = 1_000
    /// Keys scanned between two looks at the clock.
    package static let handoffScanKeysPerStep = 256
    /// One batch per target node at most this often (and one in flight): at most about 85,000
    /// records/s per target. Unpaced, four sources swamped a joining node (a 1.5 s stall of its
    /// reads); at 40 ms a million keys took 50 s to move (loadtest/rebalance.bash).
    package static let handoffBatchIntervalMs: UInt64 = 10
    /// A handoff starts at this many times that interval per target and comes down to it over
    /// `handoffRampMs` (a slow start: every node begins at the same moment).
    package static let handoffRampIntervalsMax: UInt64 = 4
    package static let handoffRampMs: UInt64 = 3_000
    /// A node that stays while a live node leaves sends this many times slower until the
    /// leaving node's handoff is done (Handoff.batchIntervalMs).
    package static let handoffBesideLeavingFactor: UInt64 = 3
    /// A node sends at the full pace to this many targets at most; with more that have keys to
    /// go, each target's interval grows in proportion (HandoffPace: a leaving node's sending).
    package static let handoffTargetsAtFullPace = 2
    /// A node keeping keys that a leaving node also held asks that node's /_/health this often
    /// until it reports its handoff done (then its own copies of those keys need not go).
    package static let handoffLeavingPollMs: UInt64 = 500
    /// A leaving node that has not answered for this long before reporting its handoff done is
    /// taken as gone: the keys deferred to it are sent from here after all.
    package static let handoffLeavingSilenceMs: UInt64 = 3_000
    /// The handoff duty's period: scan a slice of the keys, send the batches that are due.
    package static let handoffIntervalMs: UInt64 = 5
    /// Records in one handoff batch (`POST /_/handoff`); one batch per target node in flight.
    /// Small: a receiver stores a batch in one loop turn, and with 48 KiB batches from four
    /// sources a joining node's loop was busy 50–300 ms at a time (p99 of moving reads 1.1 s).
    package static let handoffRecordsPerBatch = 256
    /// Bytes of one handoff batch's body: below the node's `bodyBytesMax`.
    package static let handoffBatchBytesMax = 8 * 1024
    /// Keys waiting for one target node; the scan pauses while any target has more
    /// (back-pressure: memory stays bounded however slow a target is). Eight batches: the scan
    /// keeps just ahead of the sends through the whole move instead of filling every queue at
    /// the change, when every node scans at once (16,384 took 20 % of each node's loop for
    /// the move's first second).
    package static let handoffQueuedKeysMax = 2_048
    /// Range pairs (current × older ring) whose handoff plans a node keeps (HandoffPlans: two
    /// bytes and a list each; 5 × 64 by 4 × 64 ranges is 81,920 pairs).
    package static let handoffPlanPairsMax = 1 << 18
    /// For this long after a change, records a node applies are queued for handoff again (the
    /// writes in flight when it came; later ones reach every new replica from the proxies).
    package static let handoffInFlightWindowMs: UInt64 = 1_000
    /// After a failed batch (target down, refused, late), the pause before it is sent again.
    package static let handoffRetryDelayMs: UInt64 = 500
    /// Bytes of a node's `"movingFrom"` (the memberships it moves from) a proxy reads.
    package static let movingFromBytesMax = 16 * 1024
    /// Requests a proxy holds while it re-reads its hosts file because every replica answered
    /// 421 (a newer membership); past it such a request is sent again at once.
    package static let requestsAwaitingMembershipMax = 4_096
    /// How long such a request waits for the re-read before it is sent again anyway.
    package static let membershipWaitMs: UInt64 = 1_000
    /// How often one request goes again after every replica refused it with 421 (each time
    /// after a re-read, MembershipRetry.swift): two changes in quick succession take two.
    package static let membershipRetriesMax = 4
    /// A process re-reads its hosts file when it meets a newer generation, at most this often.
    package static let generationRereadIntervalMs: UInt64 = 1_000

    // MARK: Backups (BackupListing.swift, the node's BackupSnapshots and BackupTool)

    /// How long `linkring-node backup` waits for a running node's snapshot: covers a node still
    /// replaying its log at start-up (3.6 s at 10M keys), which takes the request once it serves.
    package static let backupSnapshotWaitMs = 30_000
    /// The backup repeats its SIGUSR1 this often while it waits (one sent while the node was
    /// starting, before it watched the signal, was ignored).
    package static let backupSignalRepeatMs = 100
    /// How often the backup looks for the snapshot while it waits.
    package static let backupSnapshotPollMs = 2
    /// A snapshot directory older than this is a backup that died before removing it: the node
    /// removes it (at start-up and at each new snapshot), giving back the disk its links hold.
    package static let backupSnapshotLifetimeMs: Int64 = 3_600_000
    /// Bytes read, written and fdatasync'ed at a time when a backup or a restore copies a file:
    /// the disk flushes at most this much at once, so a serving node's own fdatasync (on the
    /// same disk) waits for at most about that (a few ms), not for the whole copy.
    package static let backupCopyChunkBytes = 1024 * 1024
    /// A backup restored into one node of a running cluster must be younger than the tombstone
    /// grace period less this fraction of it (TombstoneRules.isRestorable): a day of 10.
    package static let restoreGraceMarginDivisor: UInt64 = 10

    // MARK: Periods and deadlines

    // The periodic duties of the processes' one cron (LinkRingServer's `Cron`,
    // docs/DECISIONS.md "One cron per process"). Periods set by options (--sync-interval-ms,
    // --ping-interval-ms, --status-interval-s) are registered with the same cron.
    /// The HTTP server's housekeeping: connection time-outs and the cached Date header.
    package static let serverHousekeepingIntervalMs: UInt64 = 100
    /// A housekeeping tick later than its period by more than this judges no client time-out:
    /// the loop itself was busy or stopped meanwhile (`TimeoutJudge`, ConnectionFlow.swift).
    package static let loopStallForgivenMs: UInt64 = 1_000
    /// A node's check of its repair requests' deadlines (anti-entropy with its peers).
    package static let peerDeadlineCheckIntervalMs: UInt64 = 100
    /// The proxy's check of its node requests' deadlines.
    package static let nodeDeadlineCheckIntervalMs: UInt64 = 50
    /// The name resolver's duty: starts the lookups that are due, notices slow ones.
    package static let nameCheckIntervalMs: UInt64 = 250
    /// A node's check whether its log is due for compaction (CompactionPolicy).
    package static let compactionCheckIntervalMs: UInt64 = 1_000
    /// The commit log's fdatasync under `--fsync everysec`.
    package static let everysecSyncIntervalMs: UInt64 = 1_000
    /// The access log's flush of its buffered lines (sooner when the buffer fills).
    package static let accessLogFlushIntervalMs: UInt64 = 1_000
    /// A failure that repeats (a full disk refusing every batch, accept out of descriptors) is
    /// logged when it starts, then as at most one summary line with a count per this period.
    package static let repeatedFailureLogIntervalMs: UInt64 = 10_000
    /// After SIGTERM a node finishes in-flight requests and its log for at most this long.
    package static let nodeShutdownDeadlineMs: UInt64 = 10_000
    /// After SIGTERM the proxy finishes in-flight requests for at most this long.
    package static let proxyShutdownDeadlineMs: UInt64 = 10_000

    // MARK: Options: defaults and accepted ranges (both processes)

    /// How far ahead of the receiver's wall clock a version may be (default of --clock-skew-ms).
    static let clockSkewMsDefault: UInt64 = 1_000
    /// The largest --clock-skew-ms an operator may set (a minute: NTP keeps hosts far closer).
    static let clockSkewMsMax: UInt64 = 60_000
    /// --clock-skew-ms.
    static let clockSkewMsRange = 10...Int(clockSkewMsMax)
    /// --replicas default: copies of every key.
    static let replicasDefault = 2
    /// --replicas.
    static let replicasRange = 1...16
    /// --vnodes default: virtual nodes per node on the hash ring.
    static let vnodesDefault = 64
    /// --vnodes.
    static let vnodesRange = 1...4096
    /// --header-timeout-ms default.
    static let headerTimeoutMsDefault: UInt64 = 10_000
    /// --header-timeout-ms.
    static let headerTimeoutMsRange = 10...3_600_000
    /// --idle-timeout-ms default.
    static let idleTimeoutMsDefault: UInt64 = 60_000
    /// --idle-timeout-ms.
    static let idleTimeoutMsRange = 10...86_400_000
    /// --max-connections default.
    static let connectionsMaxDefault = 10_000
    /// --max-connections.
    static let connectionsMaxRange = 1...1_000_000
    /// --max-connections-per-address default (or --max-connections, when that is lower): one
    /// client address may hold a tenth of the default cap, so it cannot take every slot.
    static let connectionsPerAddressMaxDefault = 1_000
    /// --max-connections-per-address (at most --max-connections).
    static let connectionsPerAddressMaxRange = 1...1_000_000

    // MARK: Options of the node: defaults and ranges

    /// --sync-interval-ms default: period of anti-entropy rounds.
    /// --tombstone-grace-ms default: a tombstone is kept at least this long (TombstoneRules).
    package static let tombstoneGraceMsDefault: UInt64 = 10 * 24 * 3_600_000
    /// --tombstone-grace-ms: at least 1 s (tests), at most about 34 years.
    static let tombstoneGraceMsRange = 1_000...(1 << 40)
    /// How often the node sweeps part of its index for collectible tombstones.
    package static let tombstoneSweepIntervalMs: UInt64 = 1_000
    /// Index slots one sweep tick looks at (about 0.3 ms on the loop): a table of 1.3M slots
    /// (1M keys) is swept every 20 s.
    package static let tombstoneSweepSlotsPerTick = 65_536
    /// How often the node stamps DATA/linkring.alive with the time (a node down longer than
    /// the grace period is refused at start-up): stamps are at most this stale.
    package static let aliveStampIntervalMs: UInt64 = 3_600_000
    static let syncIntervalMsDefault: UInt64 = 5_000
    /// --release-delay-ms default: well past the proxies' next pings after the last handoff
    /// finished (they end the move then and stop writing to the old replicas).
    static let releaseDelayMsDefault: UInt64 = 30_000
    /// --release-delay-ms.
    static let releaseDelayMsRange = 0...86_400_000
    /// How often a node looks for keys of ranges it no longer holds (after a restart, or
    /// written by a proxy that was still moving when the last release ran).
    package static let releaseCheckIntervalMs: UInt64 = 60_000
    /// How often a node asks itself whether a release is due (a look at its ranges' digests).
    package static let releasePollIntervalMs: UInt64 = 1_000
    /// Repair pauses this long before its next page while handoff batches arrive (and until
    /// none has come for this long): the handoff brings the same records.
    package static let repairPauseWhileHandoffMs: UInt64 = 1_000
    /// --sync-interval-ms.
    static let syncIntervalMsRange = 50...86_400_000
    /// --peer-timeout-ms default.
    static let peerTimeoutMsDefault: UInt64 = 5_000
    /// --peer-timeout-ms.
    static let peerTimeoutMsRange = 10...600_000
    /// --compact-min-bytes default: a log shorter than this is never rewritten.
    static let compactionLogBytesMinDefault = 64 * 1024 * 1024
    /// --compact-min-bytes.
    static let compactionLogBytesMinRange = 0...(1 << 50)
    /// --compact-ratio default.
    static let compactionGrowthRatioDefault = 2
    /// --compact-ratio.
    static let compactionGrowthRatioRange = 2...1000

    // MARK: Options of the proxy: defaults and ranges

    /// --ping-interval-ms default.
    static let pingIntervalMsDefault: UInt64 = 250
    /// --ping-interval-ms.
    static let pingIntervalMsRange = 10...60_000
    /// --ping-timeout-ms default.
    static let pingTimeoutMsDefault: UInt64 = 1_000
    /// --ping-timeout-ms.
    static let pingTimeoutMsRange = 10...60_000
    /// --down-after default: misses or failures in a row before a node is down.
    static let failuresToDownDefault = 3
    /// --down-after.
    static let failuresToDownRange = 1...100
    /// --silence-to-down-ms default: a node that has sent nothing for this long while a request
    /// waited for it is down at once (a frozen node), without waiting for missed pings.
    static let silenceToDownMsDefault: UInt64 = 1_000
    /// --silence-to-down-ms.
    static let silenceToDownMsRange = 50...600_000
    /// --status-interval-s default.
    static let statusIntervalSDefault = 30
    /// --status-interval-s (0: only on changes).
    static let statusIntervalSRange = 0...86_400
    /// --connect-timeout-ms default.
    static let connectTimeoutMsDefault: UInt64 = 1_000
    /// --connect-timeout-ms.
    static let connectTimeoutMsRange = 10...60_000
    /// --node-timeout-ms default.
    static let nodeTimeoutMsDefault: UInt64 = 2_000
    /// --node-timeout-ms.
    static let nodeTimeoutMsRange = 10...600_000
    /// --pool-size default: keep-alive connections per node.
    static let poolSizeDefault = 4
    /// --pool-size.
    static let poolSizeRange = 1...256
    /// --pipeline-depth default: requests in flight per node connection.
    static let pipelineDepthDefault = 64
    /// --pipeline-depth.
    static let pipelineDepthRange = 1...4096
    /// --queue-max default: requests waiting per node.
    static let queueMaxDefault = 1_024
    /// --queue-max.
    static let queueMaxRange = 0...1_000_000
    /// --restart-after-ms default.
    static let restartAfterMsDefault: UInt64 = 5_000
    /// --restart-after-ms.
    static let restartAfterMsRange = 0...86_400_000
    /// --restart-timeout-ms default: a restart command still running after a minute hangs.
    static let restartTimeoutMsDefault: UInt64 = 60_000
    /// --restart-timeout-ms.
    static let restartTimeoutMsRange = 100...86_400_000
}

/// The limits an operator can tune; defaults are production values.
package struct ServerLimits: Sendable, Equatable {
    /// A request whose head is not complete this long after its first byte gets 408 and is closed.
    package var headerTimeoutMs = Limits.headerTimeoutMsDefault
    /// A keep-alive connection with no request in progress is closed after this long.
    package var idleTimeoutMs = Limits.idleTimeoutMsDefault
    /// Open client connections; beyond it an idle one is closed to admit a new one, or the new
    /// one gets a 503 and is closed.
    package var connectionsMax = Limits.connectionsMaxDefault
    /// Open client connections from one address; beyond it that address gets a 503.
    package var connectionsPerAddressMax = min(Limits.connectionsPerAddressMaxDefault, Limits.connectionsMaxDefault)

    package init() {}
}

/// The limits and options that must fit each other for a cluster to work, checked at start-up
/// (and on the proxy's SIGHUP reload): a configuration that breaks one is refused with the
/// reason, instead of failing every repair or every write.
///
/// Only what cannot work is refused. Relations between time-outs and periods that merely look
/// odd are accepted, because each still works (docs/DECISIONS.md "Option relations"):
/// a --ping-timeout-ms longer than --ping-interval-ms × --down-after only slows detection (a
/// ping waits for its answer or its deadline before the next is sent); --header-timeout-ms and
/// --idle-timeout-ms time different states of a connection; a repair round longer than
/// --sync-interval-ms delays the next round; --restart-after-ms counts from when a node went
/// down, whatever the ping period.
package enum ClusterLimits {
    /// Nil when `replicas` copies of every key on a ring of `nodes` nodes × `vnodes` virtual
    /// nodes can work; `source` names where the nodes were listed (the hosts file).
    package static func problem(nodes: Int, replicas: Int, vnodes: Int, source: String) -> String? {
        if replicas > nodes { return "--replicas \(replicas) is more than the \(nodes) node(s) in \(source)" }
        return problem(nodes: nodes, vnodes: vnodes)
    }

    /// Nil when a ring of `nodes` nodes × `vnodes` virtual nodes works within the limits.
    package static func problem(nodes: Int, vnodes: Int) -> String? {
        let ranges = nodes * vnodes
        let digestsBytes = SyncCodec.digestsBytes(rangeCount: ranges)
        if digestsBytes > Limits.answerBodyBytesMax {
            return "\(nodes) nodes × \(vnodes) vnodes make \(ranges) key ranges: their digests (\(digestsBytes) bytes) would not fit "
                + "a node's answer (\(Limits.answerBodyBytesMax) bytes). Use fewer --vnodes (at most "
                + "\(Limits.answerBodyBytesMax / 8 / max(nodes, 1) - 1) for \(nodes) nodes)."
        }
        return nil
    }

    /// Relations between fixed limits, each false one named (a unit test asserts there are none).
    static func brokenRelations() -> [String] {
        var broken: [String] = []
        let keyEntryBytesMax = SyncCodec.keyEntryHeaderBytes + Limits.shortBytesMax
        if 4 + Limits.repairKeysPerPage * keyEntryBytesMax > Limits.answerBodyBytesMax {
            broken.append("a full /_/keys page exceeds the answer limit")
        }
        let recordBytesMax = LogRecord.encodedBytes(keyBytes: Limits.shortBytesMax, valueBytes: Limits.longBytesMax)
        if Limits.repairRecordsPerRequest * recordBytesMax > Limits.answerBodyBytesMax {
            broken.append("a full /_/records answer exceeds the answer limit")
        }
        if Limits.repairRecordsPerRequest * (2 + Limits.shortBytesMax) > Limits.bodyBytesMax {
            broken.append("a full /_/records request exceeds the request body limit")
        }
        if Limits.longBytesMax > Limits.bodyBytesMax { broken.append("an internal PUT body exceeds the request body limit") }
        if Limits.handoffBatchBytesMax + recordBytesMax > Limits.bodyBytesMax {
            broken.append("a handoff batch (its limit, plus the record that crosses it) exceeds the request body limit")
        }
        if recordBytesMax > Int(UInt16.max) {
            broken.append("the largest record does not fit the index's 16-bit record length (RecordLocation)")
        }
        if max(Limits.shortBytesMax, Limits.longBytesMax) > Limits.logRecordBytesMax {
            broken.append("a record's key or value exceeds what replay accepts")
        }
        return broken
    }
}
