#!/usr/bin/env python3
"""The node table of scripts/status.bash: python3 status_table.py PROXY_STATUS_URL

Reads the proxy's /_/status, then each node's /_/health (1 s time-out each; a node that does
not answer shows its proxy state only), and prints one line per node. A node's health fetched
on its own host (status.bash does that over SSH for remote nodes) is read from the file
LINKRING_HEALTH_DIR/ADDRESS instead, when it holds a JSON document. Exit 1 if the proxy does
not answer.
"""
import json
import os
import sys
import time
import urllib.request


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:  # a 503 from a recovering node still has a body
        try:
            return json.load(error)
        except ValueError:
            return None
    except (OSError, ValueError):
        return None


def node_health(address):
    directory = os.environ.get("LINKRING_HEALTH_DIR")
    if directory:
        try:
            with open(os.path.join(directory, address), encoding="utf-8") as fetched:
                return json.load(fetched)
        except (OSError, ValueError):
            pass
    return fetch(f"http://{address}/_/health") or {}


def size(value):
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024


def main():
    status = fetch(sys.argv[1])
    if status is None:
        return 1
    ring = status.get("ring", {})
    ranges = max(1, ring.get("ranges", 1))
    membership = status.get("membership", {})
    print(f"LinkRing {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}  proxy {status.get('proxy')}  "
          f"{'healthy' if status.get('healthy') else 'DEGRADED'}  generation {membership.get('generation', 0)}"
          f"{' (data moving)' if membership.get('moving') else ''}  {ring.get('nodes', 0)} nodes, {ring.get('replicas', 0)} replicas")
    rows = [("NODE", "STATE", "READINESS", "RING", "KEYS", "LOG", "LAST REPAIR")]
    for node in status.get("nodes", []):
        health = node_health(node["address"])
        sync = health.get("sync") or {}
        repair = "-"
        if sync.get("rounds"):
            repair = f"{sync['rounds']} rounds (last took {sync.get('lastRoundMs', '?')} ms), {sync.get('repaired', 0)} pulled"
        elif health.get("state"):
            repair = "none yet"
        share = 100.0 * node.get("primaryRanges", 0) / ranges
        keys = health.get("keys")
        rows.append((node["address"], node.get("state", "?"), node.get("readiness", "?"),
                     f"{share:.1f}%", "-" if keys is None else str(keys), size(health.get("logBytes")), repair))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
