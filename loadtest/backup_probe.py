#!/usr/bin/env python3
"""backup_probe.py: one request at a time against a node, each timed, for loadtest/backup.bash.

    python3 loadtest/backup_probe.py --port P --keys N --seconds S [--put] > samples.tsv

Design: one keep-alive connection and one request in flight, so every pause of the node's loop
shows as the latency of the request that waited on it (a pipelined or concurrent load would
spread it). GETs ask for k1..kN at random (gen_log.py's keys: 307 answers); with --put, PUTs
new keys p1, p2, … (each one a durable write: the active segment grows during the backup).
Each line: the request's start (Unix seconds, float), its latency in microseconds, its status.
A failed request ends the run with exit 1.
"""
import argparse
import http.client
import random
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--put", action="store_true")
    args = parser.parse_args()
    connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
    out = sys.stdout
    end = time.time() + args.seconds
    i = 0
    while time.time() < end:
        i += 1
        if args.put:
            method, path = "PUT", f"/?short=p{i}&long=http://example.com/put/{i}"
        else:
            method, path = "GET", f"/k{random.randint(1, args.keys)}"
        started = time.time()
        began = time.perf_counter()
        connection.request(method, path)
        answer = connection.getresponse()
        answer.read()
        micros = int((time.perf_counter() - began) * 1_000_000)
        if answer.status not in (200, 307):
            print(f"{method} {path}: {answer.status}", file=sys.stderr)
            return 1
        out.write(f"{started:.6f}\t{micros}\t{answer.status}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
