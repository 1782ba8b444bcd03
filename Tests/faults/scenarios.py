"""scenarios.py: the faults of the suite, one function each, run under load by runner.py.

    kill9      kill -9 of a random node, wait until the proxy logs it down, keep the load on it
               for a moment, restart it on the same data directory, wait for ready; repeated
    sigstop    SIGSTOP of a random node until the proxy logs it down and a moment longer,
               then SIGCONT (the node never restarts: it missed the writes of its pause)
    pause      SIGSTOP of a random node for 5 s, then SIGCONT: a gray failure, so no client error
               is allowed at all, and an operation overlapping the pause must not take over 1 s
    partition  a random node's link down (it hears and says nothing), then up again
    oneway     a random node's outgoing packets dropped (iptables in its namespace): it
               receives every request, may apply writes, but cannot answer; then allowed again
    proxykill  two proxies (proxy ids 1 and 2), clients spread over both, two of them changing
               proxy after every operation (so one client's consecutive writes are versioned
               by two clocks); kill -9 one proxy, its clients switch to the other, restart it;
               the next cycle kills the other
    twoproxy   no fault: two proxies and two light clients that alternate between them on four
               keys, so a client's consecutive writes of a key are minted by two clocks within
               one millisecond (cycles are seconds of load)
    sameid     no fault: two proxies started with the same --proxy-id, four clients alternating
               between them on few keys, so two writes of one key often carry one version; the
               judge compares replicas by version AND value
    skew       kill9 with two proxies whose wall clocks are a minute fast and a minute slow
               (Tests/tools/clockshift.c, an LD_PRELOAD), clients alternating between them:
               proxies version writes on the nodes' time, so nothing is refused and no write
               acknowledged later loses to an earlier one (0 stale)
    farfuture  versioned writes planted straight on a random replica of a workload key, with the
               token, at versions far ahead of its clock (2^64-1, the last 42-bit millisecond,
               one minute ahead), PUT and DELETE: each must be refused (422) and change nothing,
               so the workload's later writes of those keys keep succeeding
    diskfull   node n2's data directory is on a tmpfs (512 KiB); a filler file fills it under
               load (its writes are refused: PUTs succeed through the other replica or fail
               with a clean 503; /_/health says writable false), the filler is removed (its
               writes resume, writable true again), its ERROR lines stay bounded (not one per
               refused write), then the node is killed with -9 and must replay its log on the
               tmpfs without any corruption
    shrink     membership change under load: a node is removed (hosts file generation raised,
               SIGHUP to every process), then added back, cycle after cycle, each move with a
               kill -9 of another member while data moves; the history checker judges every
               read and write of the whole run (issue 14: no miss, no stale read, no lost write)
    grow       membership change under load: a new node (an empty data directory, another port
               on a member's host) joins, cycle after cycle (the cluster keeps what it gains),
               with a kill -9 while data moves of the joining node (even cycles) or of a
               member that sends it data (odd cycles); judged like shrink
    replace    a node killed with kill -9 and replaced by a new one (another port on its host,
               an empty data directory), with a kill -9 of another member while data moves
    dns        no fault in the processes: a fifth hosts-file line, dns-down.example:7000, whose
               name server (a UDP socket in ctl that never answers, named by every namespace's
               resolv.conf) is silent; the proxy and the nodes must take only that entry down
               and log that the name does not resolve, while every key is served without a 503
               and every read stays well under the proxy's node time-out

Each body gets a runner.Context: ctx.cluster, ctx.faults, ctx.cycles, ctx.rng, ctx.settings,
and the measuring helpers (expect_down, expect_ready, expect_rotation, restart, allow_errors).
A fault is always undone by its own body when it can be; runner.heal() undoes the rest.
"""
import os
import signal
import time
from dataclasses import dataclass, field

from cluster import ADMIN_PORT, LOG_TIME_RESOLUTION_S, Node, http_request, parse_wall, wait_until
from runner import SkipScenario, spread

CONNECTION_ERRORS = ("refused", "reset", "closed")
DISKFULL_NODE = "n2"


@dataclass
class Spec:
    name: str
    body: object
    cycles: dict
    proxies: int = 1
    hoppers: int = 0          # workers that change proxy after every operation
    workers: int = 0          # workload threads; 0: the suite's default
    prepare: object = None    # (resources, directory, settings) → {node label: data dir}
    same_proxy_id: bool = False  # both proxies get --proxy-id 1
    proxy_clock_shifts_ms: tuple = ()  # each proxy's wall clock moved by this (Tests/tools/clockshift.c)
    summarize: object = None  # (ctx, run records) → None; adds figures and notes
    extra_entries: tuple = ()  # hosts-file lines after the nodes' (no process serves them)
    about: str = field(default="")


def pick_node(ctx):
    return ctx.rng.choice(ctx.cluster.nodes)


# process faults

def kill9(ctx):
    for cycle in range(ctx.cycles):
        node = pick_node(ctx)
        _, wall = ctx.node_fault("kill -9", node, cycle=cycle)
        node.kill9()
        ctx.expect_down(node, wall)
        ctx.sleep(ctx.settings["hold_s"])
        ctx.restart(node)


def sigstop(ctx):
    for cycle in range(ctx.cycles):
        node = pick_node(ctx)
        _, wall = ctx.node_fault("SIGSTOP", node, cycle=cycle)
        node.pause()
        ctx.expect_down(node, wall)
        ctx.sleep(ctx.settings["hold_s"])
        mono, wall = ctx.mark("SIGCONT", node=node.label)
        node.resume()
        ctx.expect_ready(node, mono)
        ctx.expect_rotation(node, wall)


PAUSE_S = 5.0
PAUSE_LATENCY_S_MAX = 1.0  # the loadtest's bound is 250 ms (loadtest/failover.bash --sigstop); CI machines are noisy


def pause(ctx):
    """A gray failure: one node frozen (SIGSTOP) for 5 s, then resumed, under load. Unlike
    sigstop, no error is allowed at all: the proxy hedges reads and stops waiting for the
    frozen replica's writes, so clients must not notice."""
    ctx.data["pauses"] = []
    for cycle in range(ctx.cycles):
        node = pick_node(ctx)
        stopped, _ = ctx.mark("SIGSTOP", node=node.label, cycle=cycle)
        node.pause()
        ctx.sleep(PAUSE_S)
        resumed, wall = ctx.mark("SIGCONT", node=node.label)
        node.resume()
        ctx.data["pauses"].append((stopped, resumed))
        ctx.expect_ready(node, resumed)
        ctx.expect_rotation(node, wall)


def summarize_pause(ctx, records):
    """The slowest client operation that overlapped a pause, and the answers per second during
    the pauses against the rest of the run."""
    worst, worst_record, worst_pause, during, during_s = 0.0, None, None, 0, 0.0
    for stopped, resumed in ctx.data.get("pauses", []):
        during_s += resumed - stopped
        for record in records:
            if record["t1"] >= stopped and record["t0"] <= resumed:
                if record["t1"] - record["t0"] > worst:
                    worst, worst_record, worst_pause = record["t1"] - record["t0"], record, (stopped, resumed)
                during += record["t0"] >= stopped and record["t1"] <= resumed and record["r"] == "ok"
    span = (max(r["t1"] for r in records) - min(r["t0"] for r in records)) if records else 0
    rest = sum(1 for r in records if r["r"] == "ok") - during
    ratio = (during / during_s) / (rest / (span - during_s)) if during_s and span > during_s and rest else 0
    ctx.result.notes.append(f"slowest operation overlapping a pause {worst * 1000:.0f} ms; answers/s during the pauses "
                            f"{ratio:.0%} of the rest")
    if worst > PAUSE_LATENCY_S_MAX:
        stopped, resumed = worst_pause
        ctx.problem(f"an operation overlapping a pause took {worst * 1000:.0f} ms (more than {PAUSE_LATENCY_S_MAX * 1000:.0f}): "
                    f"{worst_record['op']} {worst_record['k']} {worst_record['r']} {worst_record.get('st') or worst_record.get('err') or ''}, "
                    f"began {(worst_record['t0'] - stopped) * 1000:+.0f} ms from the SIGSTOP, "
                    f"{(worst_record['t0'] - resumed) * 1000:+.0f} ms from the SIGCONT")


# network faults

def isolate_and_heal(ctx, label, cut, heal):
    for cycle in range(ctx.cycles):
        node = pick_node(ctx)
        _, wall = ctx.node_fault(label, node, cycle=cycle)
        cut(node.host)
        ctx.expect_down(node, wall)
        ctx.sleep(ctx.settings["hold_s"])
        mono, wall = ctx.mark(f"heal {label}", node=node.label)
        heal(node.host)
        ctx.expect_ready(node, mono)
        ctx.expect_rotation(node, wall)


def partition(ctx):
    isolate_and_heal(ctx, "link down", ctx.faults.link_down, ctx.faults.link_up)


def oneway(ctx):
    isolate_and_heal(ctx, "drop outgoing", ctx.faults.drop_outgoing, ctx.faults.allow_outgoing)


# a second proxy

def proxykill(ctx):
    ctx.data["kills"] = []
    for cycle in range(ctx.cycles):
        index = cycle % 2
        victim = ctx.cluster.proxies[index]
        killed, _ = ctx.mark("kill -9 proxy", proxy=victim.label, cycle=cycle)
        victim.kill9()
        ctx.data["kills"].append((killed, index))
        ctx.sleep(ctx.settings["hold_s"])
        restarted, _ = ctx.mark("restart proxy", proxy=victim.label)
        victim.start()
        if wait_until(victim.is_healthy, 30) is None:
            ctx.problem(f"{victim.label}: /_/health not 200 within 30s of its restart")
        ctx.result.ready_s.append(round(time.monotonic() - restarted, 3))
        if wait_until(lambda: all(ctx.cluster.in_rotation(victim, n) for n in ctx.cluster.nodes), 30) is None:
            ctx.problem(f"{victim.label}: does not see every node up and ready within 30s of its restart")
        ctx.result.rotation_s.append(round(time.monotonic() - restarted, 3))
        classes = [f"{op} {kind}" for op in ("GET", "PUT", "DELETE") for kind in CONNECTION_ERRORS]
        ctx.allow_errors(classes, killed, time.monotonic(), proxy=index, why="requests to the killed proxy")


def summarize_proxykill(ctx, records):
    """Time to detect: from a kill to the first client failure on that proxy (before the next
    kill); and how long until every client that failed there had an answer from the other."""
    kills = ctx.data.get("kills", [])
    switches = []
    for number, (killed, index) in enumerate(kills):
        until = kills[number + 1][0] if number + 1 < len(kills) else float("inf")
        failures = sorted((r["t1"], r["w"]) for r in records
                          if r["px"] == index and r["r"] != "ok" and killed <= r["t1"] < until)
        if not failures:
            ctx.problem(f"no client noticed the kill of proxy {index + 1} (was any client on it?)")
            continue
        ctx.result.detect_s.append(round(failures[0][0] - killed, 3))
        first_failure = {}
        for failed_at, worker in failures:
            first_failure.setdefault(worker, failed_at)
        for worker, failed_at in first_failure.items():
            answered = [r["t1"] for r in records if r["w"] == worker and r["px"] != index and r["r"] == "ok"
                        and failed_at <= r["t0"] < until]
            switches.append(min(answered) - killed if answered else float("inf"))
    if switches:
        ctx.result.notes.append(f"clients of a killed proxy answered by the other within {max(switches):.3f}s "
                                f"of the kill ({len(switches)} switches)")


def twoproxy(ctx):
    """No fault: light load, so one client's consecutive writes through the two proxies often
    fall in one millisecond, where only the two proxies' clocks can order them."""
    for cycle in range(ctx.cycles):
        ctx.mark("second", cycle=cycle)
        ctx.sleep(1.0)


# versions

VERSION_EPOCH_UNIX_MS = 1_577_836_800_000  # HybridClock.epochUnixMs


def far_future_versions():
    """Versions a node must refuse: the largest, the last 42-bit millisecond, one minute ahead."""
    minute_ahead = int(time.time() * 1000) - VERSION_EPOCH_UNIX_MS + 60_000
    return [2**64 - 1, ((1 << 42) - 1) << 22, minute_ahead << 22]


def farfuture(ctx):
    ctx.data["planted"] = {}
    keys = sorted(ctx.replicas)
    for cycle in range(ctx.cycles):
        key = ctx.rng.choice(keys)
        node = ctx.rng.choice(ctx.replicas[key])
        ctx.mark("plant far-future versions", node=node.label, key=key, cycle=cycle)
        for version in far_future_versions():
            for method in ("PUT", "DELETE"):
                status, _, body = node.request(method, f"/_/kv?v={version}&short={key}", 2.0,
                                               b"http://planted/" if method == "PUT" else None)
                ctx.data["planted"][node.label] = ctx.data["planted"].get(node.label, 0) + 1
                if status != 422:
                    ctx.problem(f"{node.label}: {method} of {key} at version {version} answered {status}, not 422: "
                                f"{body[:120]!r}")
        ctx.sleep(1.0)


def summarize_farfuture(ctx, records):
    """Every plant refused and counted by its node; none of it ever read back."""
    for node in ctx.cluster.nodes:
        planted = ctx.data.get("planted", {}).get(node.label, 0)
        refused = (node.health() or {}).get("versionsRefused", -1)
        if refused < planted:
            ctx.problem(f"{node.label}: {planted} far-future writes planted, /_/health counts {refused} refused")
    read_planted = sum(1 for r in records if r["op"] == "get" and r.get("v") == "http://planted/")
    if read_planted:
        ctx.problem(f"{read_planted} reads returned a planted value")
    total = sum(ctx.data.get("planted", {}).values())
    ctx.result.notes.append(f"{total} far-future writes planted straight on replicas, all refused (422); "
                            f"no read returned one; the workload's writes of those keys went on")


# a full disk

def prepare_diskfull(resources, directory, settings):
    mount = os.path.join(directory, f"tmpfs-{DISKFULL_NODE}")
    try:
        resources.mount_tmpfs(mount, settings["tmpfs_size"])
    except RuntimeError as error:
        raise SkipScenario(f"cannot mount a tmpfs here: {error}") from error
    return {DISKFULL_NODE: os.path.join(mount, "data")}


def diskfull(ctx):
    node = next(n for n in ctx.cluster.nodes if n.label == DISKFULL_NODE)
    mount = os.path.dirname(node.data_dir)
    probe = probe_key(ctx, node)
    ctx.data["full"] = []
    for cycle in range(ctx.cycles):
        filled, wall = ctx.mark("fill", node=node.label, cycle=cycle)
        filler, size = ctx.faults.fill(mount)

        def refused_while_full():
            # The node's compactions free space while it writes: keep the disk full.
            ctx.faults.top_up(filler)
            return first_log_time(node, "log write failed", wall)

        refused = wait_until(refused_while_full, 15, 0.05)
        if refused is None:
            ctx.problem(f"{node.label}: no 'log write failed' within 15s of filling its disk")
        else:
            ctx.result.detect_s.append(round(refused - wall, 3))
        if not wait_until(lambda: node_writable(node) is False, 5, 0.05):
            ctx.problem(f"{node.label}: /_/health never said writable false while its disk was full")
        ctx.sleep(ctx.settings["full_hold_s"])
        if node.health() is None:
            ctx.problem(f"{node.label}: /_/health does not answer while its disk is full")
        freed, _ = ctx.mark("free", node=node.label, filler_bytes=size)
        ctx.faults.unfill(filler)
        ctx.data["full"].append((filled, freed))
        ctx.allow_errors(("PUT 503", "DELETE 503"), filled, freed, why="writes while a replica's disk is full")
        resumed = wait_until(lambda: probe_write_lands(ctx, node, probe, cycle), 15, 0.1)
        if resumed is None:
            ctx.problem(f"{node.label}: writes did not resume within 15s of freeing its disk")
        else:
            ctx.data.setdefault("resumed_s", []).append(round(time.monotonic() - freed, 3))
        if not wait_until(lambda: node_writable(node) is True, 15, 0.1):
            ctx.problem(f"{node.label}: /_/health did not say writable true again after its disk was freed")
        ctx.sleep(ctx.settings["hold_s"])
    check_error_lines_bounded(ctx, node)
    _, wall = ctx.node_fault("kill -9 after full disk", node)
    node.kill9()
    ctx.expect_down(node, wall, into=ctx.data.setdefault("kill_detect_s", []))
    ctx.restart(node)


def node_writable(node):
    """The node's "writable" in /_/health, or None if it does not answer."""
    health = node.health()
    return None if health is None else health.get("writable")


def check_error_lines_bounded(ctx, node):
    """A full disk is logged when it starts, then at most once per 10 s: not once per refused write."""
    errors = sum(1 for line in node.log_text().splitlines() if " ERROR " in line)
    bound = 3 * ctx.cycles
    ctx.result.notes.append(f"{node.label} logged {errors} ERROR lines over {ctx.cycles} full-disk cycles")
    if errors > bound:
        ctx.problem(f"{node.label}: {errors} ERROR lines over {ctx.cycles} full-disk cycles (at most {bound}: "
                    f"the first failure of each, then one summary per 10 s)")


def probe_key(ctx, node):
    """A key outside the workload's whose replicas include node (for the writes-resume probe)."""
    for number in range(1000):
        key = f"probe{number}"
        if node in ctx.cluster.replicas([key])[key]:
            return key
    raise RuntimeError(f"no probe key placed on {node.label}")


def probe_write_lands(ctx, node, key, cycle):
    """PUT key through a proxy; true once node itself holds the value."""
    value = f"http://probe/{cycle}/{time.monotonic():.6f}"
    proxy = ctx.cluster.running_proxies()[0]
    try:
        if http_request(proxy.address, "PUT", f"/?short={key}&long={value}", 5.0)[0] != 200:
            return False
        status, _, body = node.request("GET", f"/_/kv?short={key}", 2.0)
    except OSError:
        return False
    return status == 200 and body.decode() == value


def first_log_time(process, text, after_wall):
    """Wall time of the first stderr line of process containing text, logged after after_wall."""
    for line in process.log_text().splitlines():
        if text in line:
            stamp = line.split(" ", 1)[0]
            try:
                wall = parse_wall(stamp)
            except ValueError:
                continue
            if wall >= after_wall - LOG_TIME_RESOLUTION_S:
                return wall
    return None


def summarize_diskfull(ctx, records):
    """How writes to keys held by the full node fared while its disk was full."""
    node = next(n for n in ctx.cluster.nodes if n.label == DISKFULL_NODE)
    on_node = {key for key, nodes in ctx.replicas.items() if node in nodes}
    answers = {}
    for record in records:
        if record["op"] == "get" or record["k"] not in on_node:
            continue
        if any(start <= record["t0"] and record["t1"] <= end for start, end in ctx.data.get("full", [])):
            name = f"{record['op']} {record['st'] or record['err']}"
            answers[name] = answers.get(name, 0) + 1
    shown = ", ".join(f"{name}×{count}" for name, count in sorted(answers.items()))
    ctx.result.notes.append(f"writes to keys on {node.label} while its disk was full: {shown or 'none'}")
    refusals = sum(1 for line in node.log_text().splitlines() if "log write failed" in line)
    ctx.result.notes.append(f"{node.label} logged 'log write failed' {refusals} times; detect = fill to its first "
                            f"'log write failed'; its writes resumed {spread(ctx.data.get('resumed_s', []))} "
                            f"after the filler was removed; ready/rotation = its restart after kill -9")


# a name that never resolves

SILENT_NAME = "dns-down.example"
DNS_READ_MS_MAX = 500  # "well under" the proxy's --node-timeout-ms (2000 by default)


def prepare_dns(resources, directory, settings):
    """The silent name server: UDP port 53 in ctl (run.bash names ctl in every namespace's
    resolv.conf, with a 30 s time-out and 2 attempts), bound and never read."""
    try:
        resources.silent_name_server()
    except OSError as error:
        raise SkipScenario(f"cannot bind UDP port 53 for the silent name server: {error}") from error
    return {}


def dns(ctx):
    proxy = ctx.cluster.running_proxies()[0]
    entry = f"{SILENT_NAME}:7000"
    for cycle in range(ctx.cycles):
        ctx.mark("second", cycle=cycle)
        ctx.sleep(1.0)
        state = (proxy.status() or {}).get("nodes", [])
        states = {n["address"]: n["state"] for n in state}
        if states.get(entry) != "down":
            ctx.problem(f"cycle {cycle}: {proxy.label} shows {entry} as {states.get(entry)!r}, not down")
        others = [a for a, s in states.items() if a != entry and s != "up"]
        if others:
            ctx.problem(f"cycle {cycle}: {proxy.label} shows other nodes not up: {others}")
    for process in [proxy] + ctx.cluster.nodes:
        if f"name {SILENT_NAME} does not resolve" not in process.log_text():
            ctx.problem(f"{process.label}: its log never says that {SILENT_NAME} does not resolve")


def summarize_dns(ctx, records):
    """Reads stay fast: the slowest (and the 99th percentile) against DNS_READ_MS_MAX."""
    reads = sorted(r["t1"] - r["t0"] for r in records if r["op"] == "get" and r["r"] == "ok")
    if not reads:
        return ctx.problem("no successful read to measure")
    slowest_ms, p99_ms = reads[-1] * 1000, reads[int(len(reads) * 0.99)] * 1000
    ctx.result.notes.append(f"{len(reads)} reads with {SILENT_NAME} in the hosts file: p99 {p99_ms:.1f} ms, "
                            f"slowest {slowest_ms:.1f} ms (limit {DNS_READ_MS_MAX} ms)")
    if slowest_ms > DNS_READ_MS_MAX:
        ctx.problem(f"the slowest read took {slowest_ms:.0f} ms (at most {DNS_READ_MS_MAX} ms with a silent name server)")


# membership change (issue 14)

MOVE_TIMEOUT_S = 60.0


def write_membership(cluster, generation, members):
    """The hosts file of `members` under `generation`, renamed over the old one."""
    text = f"# fault suite cluster: one namespace per node\ngeneration {generation}\n"
    text += "".join(f"{node.address}\n" for node in members)
    temporary = cluster.hosts_file + ".new"
    with open(temporary, "w", encoding="utf-8") as hosts_file:
        hosts_file.write(text)
    os.replace(temporary, cluster.hosts_file)


def change_membership(ctx, generation, members, everyone, victims, cycle):
    """Moves to `members`: the file, SIGHUP to every proxy and to `everyone`, a kill -9 of one
    of `victims` (members of the old and new membership) while data moves (restarted), then
    waits until the proxy routes by the new membership alone."""
    mono, _ = ctx.mark("membership", generation=generation, nodes=[node.label for node in members], cycle=cycle)
    write_membership(ctx.cluster, generation, members)
    for process in ctx.cluster.running_proxies() + [node for node in everyone if node.is_running()]:
        process.signal(signal.SIGHUP)
    ctx.sleep(0.05)
    victim = ctx.rng.choice(victims)
    _, wall = ctx.node_fault("kill -9 during the move", victim, cycle=cycle, generation=generation)
    victim.kill9()
    ctx.expect_down(victim, wall)
    ctx.sleep(ctx.settings["hold_s"])
    ctx.restart(victim)
    proxy = ctx.cluster.running_proxies()[0]

    def moved():
        membership = (proxy.status() or {}).get("membership", {})
        return membership.get("generation") == generation and membership.get("moving") is False
    if wait_until(moved, MOVE_TIMEOUT_S, 0.1) is None:
        return ctx.problem(f"generation {generation}: still moving after {MOVE_TIMEOUT_S}s: {(proxy.status() or {}).get('membership')}")
    ctx.data.setdefault("moves_s", []).append(round(time.monotonic() - mono, 2))


def shrink(ctx):
    """Remove a node, then add it back; each move with a kill -9 of another member."""
    everyone = list(ctx.cluster.nodes)
    generation = 0
    for cycle in range(ctx.cycles):
        leaving = everyone[cycle % len(everyone)]
        staying = [node for node in everyone if node is not leaving]
        generation += 1
        change_membership(ctx, generation, staying, everyone, staying, cycle)
        generation += 1
        change_membership(ctx, generation, everyone, everyone, staying, cycle)


def new_node(ctx, label, beside, port, admin_port=None):
    """A node not yet started, on `beside`'s host and options, with an empty data directory of
    its own, at `port` (and `admin_port` when `beside` still runs: two nodes share its host)."""
    node = Node(label, beside.host, ctx.directory, os.path.dirname(beside.binary),
                os.path.join(ctx.directory, f"data-{label}"), ctx.cluster.hosts_file, beside.options, beside.token)
    node.port = port
    node.address = f"{node.host.ip}:{port}"
    if admin_port is not None:
        node.admin_address = f"{node.host.ip}:{admin_port}"
    return node


def replace(ctx):
    """A member killed with kill -9 and replaced by a new node on another port of its host."""
    cluster = ctx.cluster
    generation = 0
    for cycle in range(ctx.cycles):
        position = cycle % len(cluster.nodes)
        old = cluster.nodes[position]
        _, wall = ctx.node_fault("kill -9 (to be replaced)", old, cycle=cycle)
        old.kill9()
        ctx.expect_down(old, wall)
        new = new_node(ctx, f"{old.label}r{cycle + 1}", old, old.port + 1 if old.port % 2 == 0 else old.port - 1)
        members = cluster.nodes[:position] + [new] + cluster.nodes[position + 1:]
        generation += 1
        write_membership(cluster, generation, members)
        new.start()
        cluster.nodes[position] = new
        ctx.unavailable[new.label] = []
        change_membership(ctx, generation, members, members, [node for node in members if node is not new], cycle)


def grow(ctx):
    """A new node (an empty data directory, another port on a member's host) joins under load;
    a kill -9 while data moves hits the joining node in even cycles, a member that sends it data
    in odd ones. The cluster keeps every node it gained."""
    cluster = ctx.cluster
    generation = 0
    for cycle in range(ctx.cycles):
        host_of = cluster.nodes[cycle % len(cluster.nodes)]
        shift = 1 + cycle // len(cluster.nodes)  # its host's member keeps the usual ports
        new = new_node(ctx, f"g{cycle + 1}", host_of, host_of.port + shift, ADMIN_PORT + shift)
        members = cluster.nodes + [new]
        generation += 1
        write_membership(cluster, generation, members)
        new.start()
        cluster.nodes.append(new)
        ctx.unavailable[new.label] = []
        victims = [new] if cycle % 2 == 0 else members[:-1]
        change_membership(ctx, generation, members, members, victims, cycle)


def summarize_moves(ctx, records):
    moves = ctx.data.get("moves_s", [])
    if moves:
        ctx.result.notes.append(f"membership changes: {len(moves)}, each done in {spread(moves)} (median/max, file written to moved)")


SPECS = [
    Spec("kill9", kill9, {"ci": 10, "full": 100}, about="kill -9 of a random node, restart, wait for ready"),
    Spec("sigstop", sigstop, {"ci": 2, "full": 10}, about="SIGSTOP past the down threshold, SIGCONT"),
    Spec("pause", pause, {"ci": 2, "full": 10}, summarize=summarize_pause,
         about="SIGSTOP of a random node for 5 s under load, SIGCONT: no client error allowed"),
    Spec("partition", partition, {"ci": 2, "full": 10}, about="a node's link down, then up"),
    Spec("oneway", oneway, {"ci": 2, "full": 10}, about="a node's outgoing packets dropped, then allowed"),
    Spec("proxykill", proxykill, {"ci": 2, "full": 10}, proxies=2, hoppers=2, summarize=summarize_proxykill,
         about="two proxies; kill -9 one, clients switch, restart it; alternate"),
    Spec("twoproxy", twoproxy, {"ci": 5, "full": 30}, proxies=2, hoppers=2, workers=2,
         about="two proxies, two clients alternating between them on four keys, no fault"),
    Spec("sameid", twoproxy, {"ci": 5, "full": 30}, proxies=2, hoppers=4, workers=4, same_proxy_id=True,
         about="two proxies with one --proxy-id, four clients alternating between them, no fault"),
    Spec("skew", kill9, {"ci": 4, "full": 30}, proxies=2, hoppers=2, workers=4, proxy_clock_shifts_ms=(60_000, -60_000),
         about="two proxies whose clocks are a minute fast and a minute slow, clients alternating; kill -9 of nodes"),
    Spec("farfuture", farfuture, {"ci": 3, "full": 20}, summarize=summarize_farfuture,
         about="far-future versions planted on replicas of workload keys, each refused"),
    Spec("diskfull", diskfull, {"ci": 1, "full": 3}, prepare=prepare_diskfull, summarize=summarize_diskfull,
         about="a node's 512 KiB tmpfs filled under load, freed, then kill -9 and replay"),
    Spec("shrink", shrink, {"ci": 1, "full": 10}, summarize=summarize_moves,
         about="a node removed then added back under load, kill -9 of a member during each move"),
    Spec("grow", grow, {"ci": 1, "full": 4}, summarize=summarize_moves,
         about="a new node joins under load, kill -9 of it or of a member during the move"),
    Spec("replace", replace, {"ci": 1, "full": 8}, summarize=summarize_moves,
         about="a node killed and replaced by a new one, kill -9 of a member during the move"),
    Spec("dns", dns, {"ci": 5, "full": 20}, prepare=prepare_dns, summarize=summarize_dns,
         extra_entries=(f"{SILENT_NAME}:7000",),
         about="a hosts-file name whose name server never answers: only its entry down, every key fast"),
]
