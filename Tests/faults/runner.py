"""runner.py: runs one fault scenario under load, heals the cluster, and judges what happened.

    fresh cluster ─▶ workload (its own process) ─▶ warm-up ─▶ the scenario's faults, cycle after
    cycle (scenarios.py), each measured: time to detect, time to ready, time back in rotation
    ─▶ undo every fault still in place, restart what is down ─▶ wait until every node is ready
    and every proxy routes to it ─▶ load a little longer ─▶ stop the load ─▶ wait until every
    key's replicas hold one version (anti-entropy settled) ─▶ read every key back ─▶ checker.py
    over the whole history ─▶ classify client-visible errors ─▶ SIGTERM everything, expect 0

A scenario passes when the checker finds nothing (no acknowledged write lost, no deleted value
back, no stale or phantom read), every fault was detected, every node came back ready, the
replicas converged, no node log mentions corruption, every process exited 0 on SIGTERM, no
process died on its own, and every client-visible error is one the scenario allows (an error
class inside a window the scenario declared, e.g. refused connections to a proxy it killed).
"""
import collections
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time

import checker
from cluster import Cluster, wait_until
from faults import Faults

HERE = os.path.dirname(os.path.abspath(__file__))
ERROR_GRACE_S = 1.0
DETECT_TIMEOUT_S = 15.0
READY_TIMEOUT_S = 30.0
HEAL_TIMEOUT_S = 45.0
CONVERGE_TIMEOUT_S = 20.0
EXAMPLES_SHOWN = 3
OP_NAMES = {"put": "PUT", "get": "GET", "del": "DELETE"}


class SkipScenario(Exception):
    """The machine cannot host this scenario (e.g. no tmpfs mounts); the reason is the message."""


class Result:
    def __init__(self, name):
        self.name = name
        self.status = "PASS"
        self.cycles = 0
        self.ops = 0
        self.acked_writes = 0
        self.lost = 0
        self.violations = collections.Counter()
        self.errors_allowed = collections.Counter()
        self.errors_unexpected = collections.Counter()
        self.detect_s, self.ready_s, self.rotation_s = [], [], []
        self.converge_s = None
        self.problems, self.notes = [], []
        self.duration_s = 0.0

    def line(self):
        if self.status == "SKIP":
            return f"SKIP {self.name:<9} {'; '.join(self.problems)}"
        errors = sum(self.errors_allowed.values()) + sum(self.errors_unexpected.values())
        parts = [f"{self.status} {self.name:<9}", f"cycles={self.cycles}", f"ops={self.ops}",
                 f"acked-writes={self.acked_writes}", f"lost={self.lost}",
                 f"stale-reads={self.violations['stale-read']}",
                 f"errors={errors}({sum(self.errors_unexpected.values())} unexpected)",
                 f"detect={spread(self.detect_s)}", f"ready={spread(self.ready_s)}",
                 f"rotation={spread(self.rotation_s)}",
                 f"converge={'-' if self.converge_s is None else f'{self.converge_s:.2f}s'}",
                 f"took={self.duration_s:.0f}s"]
        return " ".join(parts)

    def details(self):
        lines = [f"  problem: {p}" for p in self.problems]
        lines += [f"  unexpected errors: {describe_counts(self.errors_unexpected)}"] if self.errors_unexpected else []
        lines += [f"  allowed errors: {describe_counts(self.errors_allowed)}"] if self.errors_allowed else []
        lines += [f"  note: {n}" for n in self.notes]
        return lines

    def as_dict(self):
        return {"name": self.name, "status": self.status, "cycles": self.cycles, "ops": self.ops,
                "acked_writes": self.acked_writes, "lost": self.lost, "violations": dict(self.violations),
                "errors_allowed": dict(self.errors_allowed), "errors_unexpected": dict(self.errors_unexpected),
                "detect_s": self.detect_s, "ready_s": self.ready_s, "rotation_s": self.rotation_s,
                "converge_s": self.converge_s, "problems": self.problems, "notes": self.notes,
                "duration_s": round(self.duration_s, 1)}


def spread(values):
    """median/max in seconds, or - when nothing was measured."""
    if not values:
        return "-"
    return f"{statistics.median(values):.2f}/{max(values):.2f}s"


def describe_counts(counter):
    return ", ".join(f"{name}×{count}" for name, count in counter.most_common())


class Window:
    """An interval in which some client-visible error classes are legitimate."""

    def __init__(self, start, end, classes, proxy=None, why=""):
        self.start, self.end, self.classes, self.proxy, self.why = start, end, set(classes), proxy, why

    def allows(self, record, error_class):
        if error_class not in self.classes or (self.proxy is not None and record["px"] != self.proxy):
            return False
        return record["t1"] >= self.start and record["t0"] <= self.end + ERROR_GRACE_S


def overlap(first, second):
    """The intersection of two [start, end] intervals, or None."""
    start, end = max(first[0], second[0]), min(first[1], second[1])
    return (start, end) if start <= end else None


def each_unavailable(intervals_per_node, span):
    """True when every node was unavailable at some moment of span (not necessarily the same
    moment: a replica still down when the proxy routed the request is not asked, and the other
    may die while the request is in flight)."""
    return all(any(overlap(interval, span) for interval in intervals) for intervals in intervals_per_node)


class Context:
    """What a scenario body works with: the cluster, its faults, and the measurements."""

    def __init__(self, spec, mode, directory, cluster, settings):
        self.spec, self.mode, self.directory, self.cluster = spec, mode, directory, cluster
        self.settings = settings
        self.cycles = spec.cycles[mode]
        self.rng = random.Random(settings["seed"])
        self.faults = Faults()
        self.result = Result(spec.name)
        self.windows = []
        self.events = open(os.path.join(directory, "events.jsonl"), "w", encoding="utf-8")
        self.replicas = {}
        self.data = {}  # scenario-specific values for its summary
        self.unavailable = collections.defaultdict(list)  # node label → [[from, to]], monotonic

    def mark(self, label, **fields):
        """Records an event; returns (monotonic, wall) of now."""
        now = (time.monotonic(), time.time())
        self.events.write(json.dumps({"event": label, "mono": now[0], "wall": now[1], **fields}) + "\n")
        self.events.flush()
        return now

    def node_fault(self, label, node, **fields):
        """Marks a fault of node: it is unavailable from now until a proxy routes to it again."""
        now = self.mark(label, node=node.label, **fields)
        self.unavailable[node.label].append([now[0], float("inf")])
        return now

    def _node_back(self, node, wall):
        intervals = self.unavailable.get(node.label)
        if intervals and intervals[-1][1] == float("inf"):
            intervals[-1][1] = wall - (time.time() - time.monotonic())

    def problem(self, text):
        self.result.problems.append(text)

    def allow_errors(self, classes, start, end, proxy=None, why=""):
        self.windows.append(Window(start, end, classes, proxy, why))

    def sleep(self, seconds):
        time.sleep(seconds)

    def expect_down(self, node, fault_wall, into=None):
        """Waits for a proxy to log node down after fault_wall; records the time to detect
        (in the scenario's figures, or in the list `into`)."""
        proxy = self.cluster.running_proxies()[0]
        seen = wait_until(lambda: proxy.first_event(node.address, fault_wall, "down"), DETECT_TIMEOUT_S, 0.05)
        if seen is None:
            return self.problem(f"{node.label}: no 'down' logged by {proxy.label} within {DETECT_TIMEOUT_S}s")
        (self.result.detect_s if into is None else into).append(round(max(0.0, seen - fault_wall), 3))
        self.mark("detected", node=node.label, after_s=seen - fault_wall)

    def expect_ready(self, node, since_mono):
        """Waits for the node's /_/health to say ready; records the time since since_mono."""
        if wait_until(node.is_ready, READY_TIMEOUT_S) is None:
            return self.problem(f"{node.label}: not ready within {READY_TIMEOUT_S}s")
        self.result.ready_s.append(round(time.monotonic() - since_mono, 3))

    def expect_rotation(self, node, since_wall):
        """Waits for the proxy to log node up and ready after since_wall; records the time."""
        proxy = self.cluster.running_proxies()[0]
        seen = wait_until(lambda: proxy.first_event(node.address, since_wall, "up", "ready"), READY_TIMEOUT_S, 0.05)
        if seen is None:
            return self.problem(f"{node.label}: {proxy.label} logged no 'up (ready)' within {READY_TIMEOUT_S}s")
        self.result.rotation_s.append(round(max(0.0, seen - since_wall), 3))
        self._node_back(node, seen)

    def restart(self, node):
        """Starts a node that is down; records time to ready and time back in rotation."""
        mono, wall = self.mark("restart", node=node.label)
        node.start()
        self.expect_ready(node, mono)
        self.expect_rotation(node, wall)


class Workload:
    """workload.py in a child process (in the harness's namespace), stopped by SIGTERM."""

    def __init__(self, directory, proxies, settings, hoppers=0, workers=0):
        self.hoppers = hoppers
        self.workers = workers or settings["workers"]
        self.history = os.path.join(directory, "history.jsonl")
        self.proxies = ",".join(p.address for p in proxies)
        self.settings = settings
        self.log_path = os.path.join(directory, "workload.out")
        self.popen = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "workload.py"), "run", "--proxies", self.proxies,
                 "--history", self.history, "--workers", str(self.workers),
                 "--keys", str(self.settings["keys"]), "--seed", str(self.settings["seed"]),
                 "--hoppers", str(self.hoppers),
                 "--timeout-s", str(self.settings["client_timeout_s"])],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        started = wait_until(lambda: "workload running" in open(self.log_path, encoding="utf-8").read(), 10)
        if not started:
            raise RuntimeError(f"workload did not start (see {self.log_path})")

    def stop(self):
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=self.settings["client_timeout_s"] + 15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
            raise RuntimeError("workload ignored SIGTERM")

    def readback(self, proxies):
        addresses = ",".join(p.address for p in proxies)
        with open(self.log_path, "ab") as log:
            subprocess.run([sys.executable, os.path.join(HERE, "workload.py"), "readback", "--proxies", addresses,
                            "--history", self.history, "--timeout-s", str(self.settings["client_timeout_s"])],
                           stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=600, check=True)

    def records(self):
        with open(self.history, encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]

    def written_keys(self):
        keys = set()
        with open(self.history, encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                if record["op"] != "get":
                    keys.add(record["k"])
        return sorted(keys)


def run_scenario(spec, mode, directory, hosts, bin_dir, settings):
    """Runs one scenario; returns its Result (never raises for a scenario failure)."""
    os.makedirs(directory, exist_ok=True)
    began = time.monotonic()
    result = Result(spec.name)
    resources = Faults()  # what the scenario's set-up made (a tmpfs); undone after the processes stop
    faults = Faults()     # the faults its body injects; undone when healing
    cluster = None
    workload = None
    try:
        data_dirs = spec.prepare(resources, directory, settings) if spec.prepare else {}
        cluster = Cluster(directory, bin_dir, hosts, settings["node_options"], settings["proxy_options"], data_dirs,
                          settings.get("cluster_token"), spec.same_proxy_id, spec.proxy_clock_shifts_ms,
                          spec.extra_entries)
        context = Context(spec, mode, directory, cluster, settings)
        context.faults, result = faults, context.result
        cluster.start(proxies=spec.proxies)
        workload = Workload(directory, cluster.proxies[:spec.proxies], settings, spec.hoppers, spec.workers)
        workload.start()
        context.replicas = cluster.replicas([f"k{i}" for i in range(settings["keys"])])
        context.sleep(settings["warmup_s"])
        spec.body(context)
        result.cycles = context.cycles
        heal(context)
        context.sleep(settings["settle_load_s"])
        workload.stop()
        judge(context, workload)
    except SkipScenario as reason:
        result.status = "SKIP"
        result.problems.append(str(reason))
    except Exception as error:  # noqa: BLE001 — any harness error fails this scenario, the run goes on
        result.problems.append(f"{type(error).__name__}: {error}")
    finally:
        shut_down(result, cluster, workload, [faults, resources])
    if result.status != "SKIP" and (result.problems or result.lost or result.errors_unexpected):
        result.status = "FAIL"
    result.duration_s = time.monotonic() - began
    return result


def heal(context):
    """Undoes what is left of the faults and waits until the cluster routes to every node."""
    for failure in context.faults.undo_all():
        context.problem(f"undo failed: {failure}")
    cluster = context.cluster
    for process in cluster.nodes + cluster.proxies[:context.spec.proxies]:
        if process.is_paused:
            process.resume()
        if not process.is_running():
            if process.popen is not None and not process.killed_by_harness:
                context.problem(f"{process.label} exited on its own with status {process.popen.returncode}")
            process.start()
    context.mark("healing")
    if not cluster.wait_healed(HEAL_TIMEOUT_S):
        states = {p.label: p.node_states() for p in cluster.running_proxies()}
        context.problem(f"not healed within {HEAL_TIMEOUT_S}s: proxy view {states}")


def judge(context, workload):
    """Convergence, read-back, history check, error classes, node logs."""
    cluster, result = context.cluster, context.result
    replicas = cluster.replicas(workload.written_keys())
    began = time.monotonic()
    divergent = wait_until(lambda: not cluster.divergent_keys(replicas), CONVERGE_TIMEOUT_S, 0.25)
    if divergent is None:
        keys = cluster.divergent_keys(replicas)
        context.problem(f"{len(keys)} keys still differ between replicas after {CONVERGE_TIMEOUT_S}s: {keys[:5]}")
    else:
        result.converge_s = round(time.monotonic() - began, 2)
    workload.readback(cluster.running_proxies())
    records = workload.records()
    report = checker.check([checker.op_from_record(r) for r in records])
    result.violations.update(v.kind for v in report.violations)
    result.lost = report.lost_acknowledged_writes
    for kind in checker.KINDS:
        examples = [v for v in report.violations if v.kind == kind]
        if not examples:
            continue
        tolerated = kind == "stale-read" and context.settings["tolerate_stale_reads"]
        add = result.notes.append if tolerated else context.problem
        add(f"checker: {len(examples)} {kind}{' (tolerated: --tolerate-stale-reads)' if tolerated else ''}")
        for violation in examples[:EXAMPLES_SHOWN]:
            add(f"  e.g. {violation}")
    run_records = [r for r in records if r.get("w", 0) >= 0]
    result.ops = len(run_records)
    result.acked_writes = sum(1 for r in run_records if r["op"] != "get" and r["r"] == "ok")
    classify_errors(context, records)
    if context.spec.summarize:
        context.spec.summarize(context, run_records)
    for node in cluster.nodes:
        if "corrupt" in node.log_text().lower():
            context.problem(f"{node.label}: its log mentions corruption (see {node.stderr_path})")


def error_class(record):
    return f"{OP_NAMES[record['op']]} {record['st'] or record['err']}"


def classify_errors(context, records):
    """An error is allowed inside a window the scenario declared, or as a 503 of a request during
    which every replica of its key was unavailable at some moment (from its fault until a proxy
    routed to it again)."""
    for record in records:
        if record["r"] == "ok":
            continue
        name = error_class(record)
        window = next((w for w in context.windows if w.allows(record, name)), None)
        if window:
            context.result.errors_allowed[f"{name} ({window.why})"] += 1
        elif record["st"] == 503 and replicas_unavailable(context, record):
            context.result.errors_allowed[f"{name} (every replica of the key unavailable)"] += 1
        else:
            context.result.errors_unexpected[name] += 1


def replicas_unavailable(context, record):
    nodes = context.replicas.get(record["k"], [])
    span = (record["t0"] - ERROR_GRACE_S / 10, record["t1"] + ERROR_GRACE_S / 10)
    return bool(nodes) and each_unavailable([context.unavailable.get(n.label, []) for n in nodes], span)


def shut_down(result, cluster, workload, registries):
    """Stops the load and every process (SIGTERM, expecting 0), then undoes every fault."""
    if workload is not None:
        try:
            workload.stop()
        except RuntimeError as error:
            result.problems.append(str(error))
    if cluster is not None:
        for label, status in cluster.stop().items():
            if status != 0:
                result.problems.append(f"{label} exited with status {status} on SIGTERM")
    for registry in registries:
        for failure in registry.undo_all():
            result.problems.append(f"undo failed: {failure}")
