// Restarts nodes that stay down: the original design's "restart the dead node" step.
//
// A node down for `restartAfterMs` gets `--restart-command` run as `CMD HOST PORT` (through
// /bin/sh, so CMD may carry its own arguments). If it is still down, the next attempt waits
// twice as long (capped at `Limits.restartBackoffMsMax`); when it comes back up the delay resets. Every
// attempt, and how the command exited, is logged. With no command set this does nothing
// (under systemd, Restart= restarts nodes).
//
// At most one command per node runs at a time: while one runs, no attempt starts (a command
// that hangs must not pile up copies). A command still running after `--restart-timeout-ms`
// is killed with its process group, and logged. Shutdown does not wait for a command: the
// proxy stops watching it (`close`), and the command goes on by itself.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class Restarter {
    private let loop: EventLoop
    private let command: String
    private let restartAfterMs: UInt64
    private let timeoutMs: UInt64
    private var attempts: [HostPort: Int] = [:]
    private var nextAttemptMs: [HostPort: UInt64] = [:]
    /// The command running for a node, and when it started.
    private var running: [HostPort: (process: ChildProcess, startedMs: UInt64)] = [:]

    init(loop: EventLoop, command: String, restartAfterMs: UInt64, timeoutMs: UInt64) {
        self.loop = loop
        self.command = command
        self.restartAfterMs = restartAfterMs
        self.timeoutMs = timeoutMs
    }

    /// Stops watching every running command (shutdown: they go on by themselves).
    func close() {
        for (_, child) in running { child.process.release() }
        running.removeAll()
    }

    /// Kills a command that ran past its time-out; true while one still runs for `address`.
    private func isRunning(_ address: HostPort, nowMs: UInt64) -> Bool {
        guard let child = running[address] else { return false }
        if nowMs >= child.startedMs + timeoutMs {
            Log.error("restart command for \(address) still running after \(nowMs - child.startedMs) ms "
                + "(--restart-timeout-ms \(timeoutMs)): killing it (process group \(child.process.pid))")
            child.process.killGroup()
        }
        return true
    }

    /// Called on every sentinel tick.
    func check(_ nodes: [NodeClient]) {
        let now = loop.nowMs
        for node in nodes {
            let address = node.address
            guard let downFor = node.health.downForMs(nowMs: now) else {
                attempts[address] = nil
                nextAttemptMs[address] = nil
                continue
            }
            guard !isRunning(address, nowMs: now), downFor >= restartAfterMs, now >= nextAttemptMs[address, default: 0] else { continue }
            let attempt = attempts[address, default: 0] + 1
            attempts[address] = attempt
            let delay = RestartBackoff.delayMs(after: attempt, baseMs: max(restartAfterMs, Limits.restartBackoffMsMin), maxMs: Limits.restartBackoffMsMax)
            nextAttemptMs[address] = now + delay
            run(for: node, attempt: attempt, downForMs: downFor, nextInMs: delay)
        }
    }

    private func run(for node: NodeClient, attempt: Int, downForMs: UInt64, nextInMs: UInt64) {
        let address = node.address
        Log.warning("restarting node \(address) (down \(downForMs) ms, attempt \(attempt), next in \(nextInMs) ms): \(command) \(address.host) \(address.port)")
        do {
            let process = try ChildProcess.spawn(loop: loop, arguments: ["/bin/sh", "-c", command + " \"$@\"", "linkring-restart",
                                                                         address.host, String(address.port)]) { [unowned self] status, signal in
                self.running[address] = nil
                if status != 0 || signal != 0 {
                    Log.warning("restart command for \(address) exited with status \(status)\(signal != 0 ? ", signal \(signal)" : "")")
                }
            }
            running[address] = (process, loop.nowMs)
        } catch {
            Log.error("restart command for \(address) could not start: \(error)")
        }
    }
}
