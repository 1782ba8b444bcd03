#!/usr/bin/env python3
"""healing_check.py: the client side of scripts/testNodeHealing.bash (stdlib only).

    healing_check.py load  --proxy HOST:PORT --seconds S --ledger FILE [--prefix P]
    healing_check.py verify --proxy HOST:PORT --ledger FILE [--token-file FILE] [--operator HOST:PORT]

`load` runs writes (PUTs, and every tenth a DELETE of an earlier key) and reads through the
proxy on 8 keep-alive connections for S seconds, and records every acknowledged write in the
ledger (JSON lines: key, value or null for a delete, and the order it was acknowledged in). It
prints `load-result writes=… write_failures=… reads=… read_failures=…`.

`verify` checks every key of the ledger on every replica that holds it (the proxy's
/_/status?key= says which, read on --operator, the proxy's admin address if it has one): each replica must hold the last acknowledged value (or the
tombstone of the last acknowledged delete), with the same version as the other replicas.
It prints `verify-result keys=… replicas_checked=… mismatches=…` and the first mismatches.
It asks the nodes directly, so it sends the cluster token of --token-file (the file the
scripts pass to every process with --cluster-token-file; a node with a token answers 401
without it). The token is read from the file, never taken on the command line (`ps` shows that).
"""
import argparse
import http.client
import json
import sys
import threading
import time


def connect(address):
    host, port = address.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=10)


def load(args):
    deadline = time.monotonic() + args.seconds
    lock = threading.Lock()
    counts = {"writes": 0, "write_failures": 0, "reads": 0, "read_failures": 0}
    problems = []
    ledger = open(args.ledger, "w")
    sequence = [0]

    def worker(index):
        connection = connect(args.proxy)
        written = []
        step = 0
        while time.monotonic() < deadline:
            step += 1
            key = f"{args.prefix}{index}-{step}"
            try:
                if step % 10 == 0 and written:
                    victim = written.pop(0)
                    connection.request("DELETE", f"/{victim}")
                    response = connection.getresponse()
                    response.read()
                    ok, record = response.status in (200, 404), (victim, None)
                else:
                    value = f"http://healing.example/{key}"
                    connection.request("PUT", f"/?short={key}&long={value}")
                    response = connection.getresponse()
                    response.read()
                    ok, record = response.status == 200, (key, value)
                    if ok:
                        written.append(key)
                with lock:
                    if ok:
                        counts["writes"] += 1
                        sequence[0] += 1
                        ledger.write(json.dumps({"key": record[0], "value": record[1], "order": sequence[0]}) + "\n")
                    else:
                        counts["write_failures"] += 1
                        problems.append(f"{record} -> {response.status} at {time.time():.3f}")
                if written:
                    connection.request("GET", f"/{written[-1]}")
                    response = connection.getresponse()
                    response.read()
                    with lock:
                        counts["reads"] += 1
                        if response.status != 307:
                            counts["read_failures"] += 1
                            problems.append(f"GET {written[-1]} -> {response.status} at {time.time():.3f}")
            except (OSError, http.client.HTTPException):
                with lock:
                    counts["write_failures"] += 1
                connection.close()
                connection = connect(args.proxy)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger.close()
    print("load-result " + " ".join(f"{name}={value}" for name, value in counts.items()))
    for line in problems[:10]:
        print("  " + line)


def get(address, path, token):
    connection = connect(address)
    headers = {"X-Cluster-Token": token} if token else {}
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body, response.getheader("X-Version")


def read_token(path):
    """The token in the file at path, surrounding whitespace trimmed; None without a path."""
    if not path:
        return None
    try:
        with open(path, encoding="ascii") as file:
            token = file.read().strip()
    except (OSError, UnicodeDecodeError) as error:
        sys.exit(f"healing_check.py: cannot read the cluster token file {path}: {error}")
    if not token:
        sys.exit(f"healing_check.py: the cluster token file {path} is empty")
    return token


def verify(args):
    token = read_token(args.token_file)
    expected = {}
    for line in open(args.ledger):
        entry = json.loads(line)
        expected[entry["key"]] = entry["value"]
    mismatches, checked = [], 0
    for key, value in expected.items():
        status, body, _ = get(args.operator or args.proxy, f"/_/status?key={key}", None)
        replicas = json.loads(body)["replicas"]
        answers = []
        for replica in replicas:
            answers.append(get(replica, f"/_/kv?short={key}", token))
            checked += 1
        want = (200, value.encode()) if value is not None else (404, b"")
        for replica, (status, body, version) in zip(replicas, answers):
            if (status, body) != want:
                mismatches.append(f"{key} on {replica}: {status} {body[:60]!r}, expected {want[0]} {want[1][:60]!r}")
        if len({version for _, _, version in answers}) != 1:
            mismatches.append(f"{key}: replicas hold different versions {[a[2] for a in answers]}")
    print(f"verify-result keys={len(expected)} replicas_checked={checked} mismatches={len(mismatches)}")
    for line in mismatches[:10]:
        print("  " + line)
    return 1 if mismatches else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["load", "verify"])
    parser.add_argument("--proxy", required=True)
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--prefix", default="heal")
    parser.add_argument("--token-file", default="", help="the cluster token file (mode 0600)")
    parser.add_argument("--operator", default="", help="where the proxy serves /_/status (its --admin-listen; default --proxy)")
    args = parser.parse_args()
    if args.mode == "load":
        load(args)
        return 0
    return verify(args)


if __name__ == "__main__":
    sys.exit(main())
