#!/usr/bin/env python3
"""latency_probe.py: a light GET probe with per-second latency figures (loadtest/rebalance.bash).

One keep-alive connection, one GET of a random key kI every INTERVAL_MS, each request timed
alone; per whole second since START_EPOCH one CSV row: second,requests,p50_ms,p99_ms,max_ms.
The wrk probe beside it gives one p99 per window; this one shows when inside a move the slow
requests come (evenly, or in bursts at its edges). With RAW.csv, every request too
(epoch_s,ms: its start and its latency), to line slow moments up with the processes' logs.

    latency_probe.py PORT KEYS SECONDS START_EPOCH INTERVAL_MS OUT.csv [RAW.csv]
"""

import random
import socket
import sys
import time


def read_answer(sock, buffered):
    """Reads one HTTP answer (head and Content-Length body); returns what follows it."""
    while True:
        head_end = buffered.find(b"\r\n\r\n")
        if head_end >= 0:
            length = 0
            for line in buffered[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if len(buffered) >= head_end + 4 + length:
                return buffered[head_end + 4 + length:]
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffered += chunk


def percentile(sorted_values, fraction):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def main():
    port, keys, seconds, start = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    interval, out = float(sys.argv[5]) / 1000, sys.argv[6]
    raw = open(sys.argv[7], "w") if len(sys.argv) > 7 else None
    per_second = {}
    sock, buffered = None, b""
    end = time.time() + seconds
    while time.time() < end:
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buffered = b""
            request = b"GET /k%d HTTP/1.1\r\nHost: probe\r\n\r\n" % random.randint(1, keys)
            began = time.perf_counter()
            sock.sendall(request)
            buffered = read_answer(sock, buffered)
            elapsed_ms = (time.perf_counter() - began) * 1000
            per_second.setdefault(int(time.time() - start), []).append(elapsed_ms)
            if raw:
                raw.write("%.3f,%.2f\n" % (time.time() - elapsed_ms / 1000, elapsed_ms))
        except OSError:
            sock = None  # not timed: the load generator counts errors
        time.sleep(interval)
    if raw:
        raw.close()
    with open(out, "w") as csv:
        csv.write("second,requests,p50_ms,p99_ms,max_ms\n")
        for second in sorted(per_second):
            values = sorted(per_second[second])
            csv.write("%d,%d,%.2f,%.2f,%.2f\n" % (second, len(values), percentile(values, 0.5),
                                                  percentile(values, 0.99), values[-1]))


if __name__ == "__main__":
    main()
