// Back-pressure of a client connection, as pure decisions on what the connection holds, so
// they are unit-tested without sockets (LinkRingServerTests/ConnectionFlowTests).
//
//   socket ─read─▶ unparsed input ─parse─▶ handler ─▶ answers owed ─▶ unsent output ─write─▶ socket
//                  ≤ inputBytesMax         (while      ≤ answersOwedMax  ≤ outputBytesMax
//                  while it cannot parse    it may)
//
// A connection parses while it owes fewer than `answersOwedMax` answers, none of them
// blocking, and holds at most `outputBytesMax` of answers unsent; past either it stops
// parsing. It also stops for the rest of a loop turn once it handled
// `Limits.connectionRequestsPerTurnMax` requests in it: a long pipeline goes on next turn,
// after the other connections had theirs. It keeps reading while it may parse (what is left
// unparsed is then one incomplete request, bounded by the request size limits) or while its
// unparsed input is below `inputBytesMax`; past that it stops reading. Reading ahead that far
// while an answer is owed keeps a pipelining client's next requests ready without a stop and a
// start of reading (two epoll_ctl calls) per request, and costs a non-pipelining client nothing.
//
// Every event that lowers what the connection holds (an answer given, a write completed at once
// or later, input parsed) is followed by the same decision, so reading always resumes when the
// load drains, whichever way the write completed (issue 12: it used to resume only when a
// queued write completed, so a pipeline answered by immediate writes stalled for ever).

import LinkRingCore

/// What a connection holds at one moment.
package struct ConnectionLoad: Equatable {
    /// Input read but not yet parsed into a request.
    package var unparsedInputBytes = 0
    /// Answers not yet sent: written but queued, or given and waiting behind an earlier answer.
    package var unsentOutputBytes = 0
    /// Answers the handlers still owe or that wait for an earlier one (request order).
    package var answersOwed = 0
    /// Of those, answers a blocking (public) handler owes: the next request waits for them.
    package var blockingAnswersOwed = 0
    /// The connection handled its share of requests for this loop turn; it goes on next turn.
    package var hasUsedTurn = false

    package init(unparsedInputBytes: Int = 0, unsentOutputBytes: Int = 0, answersOwed: Int = 0, blockingAnswersOwed: Int = 0,
                 hasUsedTurn: Bool = false) {
        self.unparsedInputBytes = unparsedInputBytes
        self.unsentOutputBytes = unsentOutputBytes
        self.answersOwed = answersOwed
        self.blockingAnswersOwed = blockingAnswersOwed
        self.hasUsedTurn = hasUsedTurn
    }
}

/// Whether a housekeeping tick may judge client time-outs (header, idle, linger). libuv runs
/// timers before it polls, so the tick that follows a long turn of the loop (a pipeline answered
/// for seconds under a sanitizer, a process stopped or starved of CPU) comes before the bytes
/// clients sent meanwhile are read: judged then, a client would be cut for the server's own
/// delay. A tick later than its period by more than `Limits.loopStallForgivenMs` therefore
/// judges nothing; the next one, after the loop has polled, does. (Measured: an
/// AddressSanitizer node spent 20 s of one turn answering a 30,000-GET pipeline, then answered
/// 408 to the request whose rest had been waiting in its socket.)
package struct TimeoutJudge: Equatable {
    private let periodMs: UInt64
    private var lastTickMs: UInt64? = nil

    package init(periodMs: UInt64) { self.periodMs = periodMs }

    /// Called on every tick at `nowMs` (monotonic): true when this tick came on time.
    package mutating func mayJudge(nowMs: UInt64) -> Bool {
        defer { lastTickMs = nowMs }
        guard let last = lastTickMs, nowMs > last else { return true }
        return nowMs - last <= periodMs + Limits.loopStallForgivenMs
    }
}

/// The connection's limits (`Limits.connection…` in production; small ones in tests).
package struct ConnectionBudget: Equatable {
    package var inputBytesMax = Limits.connectionInputBytesMax
    package var outputBytesMax = Limits.connectionOutputBytesMax
    package var answersOwedMax = Limits.connectionAnswersOwedMax

    package init() {}

    /// Whether the next request may be parsed and handled now.
    package func mayParse(_ load: ConnectionLoad) -> Bool {
        !load.hasUsedTurn && load.blockingAnswersOwed == 0 && load.answersOwed < answersOwedMax && load.unsentOutputBytes <= outputBytesMax
    }

    /// Whether the connection should read from its socket now.
    package func shouldRead(_ load: ConnectionLoad) -> Bool {
        mayParse(load) || load.unparsedInputBytes < inputBytesMax
    }

    /// Whether answers waiting in the connection's output should stop parsing until they are
    /// sent (the output is written then, and parsing goes on if the socket took it).
    package func isOutputFull(_ load: ConnectionLoad) -> Bool {
        load.unsentOutputBytes > outputBytesMax
    }
}
