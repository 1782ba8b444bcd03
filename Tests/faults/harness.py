#!/usr/bin/env python3
"""harness.py: runs the fault scenarios and reports them; started by run.bash, inside "ctl".

    harness.py --mode ci|full --run-dir DIR --bin-dir DIR --host NAME=NAMESPACE=IP … [--only A,B] [--seed N]
    harness.py --skip-all REASON [--only A,B]      (run.bash could not make namespaces)

Prints one line per scenario, `PASS|FAIL|SKIP name figures…`, with indented details (problems,
error classes, notes) under it, then `N passed, N failed, N skipped`; exits 1 on any FAIL.
Writes the same lines to RUN_DIR/summary.txt, and RUN_DIR/figures.json and RUN_DIR/figures.md
(the table docs/RELIABILITY.md shows).
Each scenario runs on a fresh cluster in RUN_DIR/SCENARIO/ (logs, history.jsonl, events.jsonl).
Every cluster runs with a cluster token, as the scripts run one: a random token in
RUN_DIR/cluster-token (mode 0600) that nodes and proxies read with --cluster-token-file, and
that the harness sends on its own requests straight to a node.

The settings below are the suite's: production defaults for the proxy's failure detection
(ping every 250 ms, 1 s ping time-out, down after 3 misses) so time to detect is what an
operator gets, a 1 s anti-entropy interval on the nodes (5 s by default) so healing
settles quickly, and log compaction from 64 KiB (64 MiB by default) so every node rewrites
its log every few seconds while the faults strike. Modes differ only in cycles and in how
long a fault is held.
"""
import argparse
import json
import os
import secrets
import sys

from cluster import Host
from runner import run_scenario, spread
from scenarios import SPECS

COMMON = {
    "node_options": ["--sync-interval-ms", "1000", "--compact-min-bytes", "65536"],
    "proxy_options": ["--status-interval-s", "0"],
    "tmpfs_size": "512k",
    "workers": 6,
    "keys": 200,
    "client_timeout_s": 10,
    "warmup_s": 1.0,
    "settle_load_s": 1.0,
}
MODES = {
    "ci": {"hold_s": 1.0, "full_hold_s": 2.0},
    "full": {"hold_s": 1.5, "full_hold_s": 4.0},
}


def parse_arguments():
    parser = argparse.ArgumentParser(description="LinkRing fault-injection scenarios (run through run.bash)")
    parser.add_argument("--mode", choices=sorted(MODES), default="ci")
    parser.add_argument("--run-dir")
    parser.add_argument("--bin-dir")
    parser.add_argument("--host", action="append", default=[], help="NAME=NAMESPACE=IP, one per host")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-all", metavar="REASON")
    parser.add_argument("--tolerate-stale-reads", action="store_true",
                        help="report stale reads during the run without failing the scenario")
    return parser.parse_args()


def selected_specs(only):
    names = [n for n in only.split(",") if n]
    unknown = set(names) - {s.name for s in SPECS}
    if unknown:
        sys.exit(f"unknown scenarios: {', '.join(sorted(unknown))}; known: {', '.join(s.name for s in SPECS)}")
    return [s for s in SPECS if not names or s.name in names]


def parse_hosts(entries):
    hosts = []
    for entry in entries:
        name, namespace, ip = entry.split("=")
        hosts.append(Host(name, namespace, ip))
    return hosts


def error_cell(result):
    allowed, unexpected = sum(result.errors_allowed.values()), sum(result.errors_unexpected.values())
    if not allowed and not unexpected:
        return "0"
    parts = []
    if unexpected:
        parts.append("unexpected: " + ", ".join(f"{k}×{v}" for k, v in result.errors_unexpected.most_common()))
    if allowed:
        parts.append("allowed: " + ", ".join(f"{k}×{v}" for k, v in result.errors_allowed.most_common()))
    return f"{allowed + unexpected} ({'; '.join(parts)})"


def write_figures(run_dir, mode, results):
    with open(os.path.join(run_dir, "figures.json"), "w", encoding="utf-8") as out:
        json.dump({"mode": mode, "scenarios": [r.as_dict() for r in results]}, out, indent=1)
    header = ("| scenario | result | cycles | operations | acked writes | acked writes lost | client-visible errors "
              "| time to detect (median/max) | time to ready (median/max) | back in rotation (median/max) "
              "| replicas converged after |")
    rows = [header, "|" + "---|" * 11]
    for r in results:
        converge = "-" if r.converge_s is None else f"{r.converge_s:.2f}s"
        rows.append(f"| {r.name} | {r.status} | {r.cycles} | {r.ops} | {r.acked_writes} | {r.lost} | {error_cell(r)} "
                    f"| {spread(r.detect_s)} | {spread(r.ready_s)} | {spread(r.rotation_s)} | {converge} |")
    with open(os.path.join(run_dir, "figures.md"), "w", encoding="utf-8") as out:
        out.write("\n".join(rows) + "\n")


class Output:
    """Prints report lines as they come and keeps them in RUN_DIR/summary.txt too."""

    def __init__(self, run_dir):
        self.file = open(os.path.join(run_dir, "summary.txt"), "w", encoding="utf-8") if run_dir else None

    def line(self, text):
        print(text, flush=True)
        if self.file:
            self.file.write(text + "\n")
            self.file.flush()


def make_cluster_token(run_dir):
    """A new random token in RUN_DIR/cluster-token (created mode 0600): (path, token)."""
    path = os.path.join(run_dir, "cluster-token")
    token = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(token + "\n")
    return path, token


def token_settings(run_dir):
    """The settings that run every cluster of this run with one cluster token."""
    path, token = make_cluster_token(run_dir)
    option = ["--cluster-token-file", path]
    return {"node_options": COMMON["node_options"] + option, "proxy_options": COMMON["proxy_options"] + option,
            "cluster_token": token}


def skip_all(specs, reason, output):
    for spec in specs:
        output.line(f"SKIP {spec.name:<9} {reason}")
    output.line(f"0 passed, 0 failed, {len(specs)} skipped")
    return 0


def main():
    args = parse_arguments()
    specs = selected_specs(args.only)
    output = Output(args.run_dir)
    if args.skip_all:
        return skip_all(specs, args.skip_all, output)
    settings = dict(COMMON, **MODES[args.mode], **token_settings(args.run_dir), seed=args.seed,
                    tolerate_stale_reads=args.tolerate_stale_reads)
    hosts = parse_hosts(args.host)
    results = []
    for spec in specs:
        result = run_scenario(spec, args.mode, os.path.join(args.run_dir, spec.name), hosts, args.bin_dir, settings)
        results.append(result)
        output.line(result.line())
        for detail in result.details():
            output.line(detail)
    write_figures(args.run_dir, args.mode, results)
    counts = {status: sum(1 for r in results if r.status == status) for status in ("PASS", "FAIL", "SKIP")}
    output.line(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
