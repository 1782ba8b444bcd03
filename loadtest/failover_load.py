#!/usr/bin/env python3
"""failover_load.py: GET and PUT load with per-second counts of answers and client-visible errors.

    python3 loadtest/failover_load.py --port PORT --keys N --duration-s D --out-dir DIR
                                      [--get-connections 8] [--put-connections 4] [--timeout-s 5]

Design: one asyncio loop (no threads, no pip packages); each connection is keep-alive with one
request in flight, as a browser or wrk would send them, and opened again after any failure.
  GET /kI, I uniform over the preloaded keys 1..N: must answer 307 with Location
      http://example.com/page/I.
  PUT /?short=fJ&long=http://example.com/f/J, J = 1, 2, … unique: must answer 200.
Anything else is a client-visible error: another status, a wrong Location, a reset, a close,
or no answer within --timeout-s. Every error is written to DIR/errors.txt with its time since
the start, method, path and what happened. DIR/per_second.csv has, per second since the start,
the answers and errors of each method, their worst latency and their 99th percentile. After the load, every key an
acknowledged PUT wrote is read back (the same connections, bounded by --verify-timeout-s): one
that answers 404 or a wrong Location is an acknowledged write the cluster no longer serves,
and goes to errors.txt too. First line on stdout: `failover-start epoch=SECONDS` (wall clock,
for the driver's kill and restart marks); last line: `failover-result …` (key=value counts).
"""
import argparse
import asyncio
import random
import sys
import time

GET, PUT = "GET", "PUT"
# What a broken connection or a garbled answer raises; all of them count as a client error.
FAILURES = (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, asyncio.LimitOverrunError, ValueError)


class Stats:
    def __init__(self, start):
        self.start = start
        self.seconds = {}
        self.errors = []

    def bucket(self, now):
        second = int(now - self.start)
        return self.seconds.setdefault(second, {"GET_ok": 0, "PUT_ok": 0, "GET_err": 0, "PUT_err": 0,
                                                "GET_max_ms": 0.0, "PUT_max_ms": 0.0, "GET_ms": [], "PUT_ms": []})

    def record(self, method, began, ended, ok, detail=""):
        row = self.bucket(ended)
        row[f"{method}_{'ok' if ok else 'err'}"] += 1
        row[f"{method}_max_ms"] = max(row[f"{method}_max_ms"], (ended - began) * 1000)
        row[f"{method}_ms"].append((ended - began) * 1000)
        if not ok:
            self.errors.append(f"t={began - self.start:.3f}s..{ended - self.start:.3f}s {method} {detail}")


async def exchange(reader, writer, request, timeout_s):
    """Sends one request; returns (status, location). Raises on a close, reset or time-out."""
    async def run():
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        await reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers.get("location")
    return await asyncio.wait_for(run(), timeout_s)


def make_request(method, i, prefix="k"):
    """Returns (path, request bytes, expected status, expected Location or None)."""
    if method == GET:
        long_url = f"http://example.com/{'page' if prefix == 'k' else prefix}/{i}"
        return f"/{prefix}{i}", f"GET /{prefix}{i} HTTP/1.1\r\nHost: linkring\r\n\r\n".encode(), 307, long_url
    path = f"/?short=f{i}&long=http://example.com/f/{i}"
    return path, f"PUT {path} HTTP/1.1\r\nHost: linkring\r\n\r\n".encode(), 200, None


def judge(expected_status, expected_location, status, location):
    """Returns "" when the answer is right, else what is wrong with it."""
    if status != expected_status:
        return f"status {status}"
    if expected_location is not None and location != expected_location:
        return f"Location {location!r}, expected {expected_location!r}"
    return ""


async def attempt(args, connection, request, expected_status, expected_location):
    """One request on CONNECTION (opened when None); returns (connection or None, problem)."""
    try:
        if connection is None:
            connection = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", args.port), args.timeout_s)
        status, location = await exchange(*connection, request, args.timeout_s)
        return connection, judge(expected_status, expected_location, status, location)
    except FAILURES as error:
        if connection is not None:
            connection[1].close()
        return None, f"{type(error).__name__}: {error}".strip()


async def client(args, stats, method, next_index, deadline, acknowledged):
    connection = None
    while time.monotonic() < deadline:
        i = next_index()
        path, request, expected_status, expected_location = make_request(method, i)
        began = time.monotonic()
        connection, problem = await attempt(args, connection, request, expected_status, expected_location)
        stats.record(method, began, time.monotonic(), not problem, f"{path} {problem}")
        if not problem and method == PUT:
            acknowledged[i] = time.monotonic() - stats.start
    if connection is not None:
        connection[1].close()


async def verify(args, stats, keys):
    """Reads back every acknowledged PUT; returns (right, wrong, not read in time)."""
    queue = list(keys)  # KEYS: index -> time of the acknowledgement
    counts = {"right": 0, "wrong": 0}
    deadline = time.monotonic() + args.verify_timeout_s

    async def reader_task():
        connection = None
        while queue and time.monotonic() < deadline:
            i = queue.pop()
            _, request, expected_status, expected_location = make_request(GET, i, prefix="f")
            connection, problem = await attempt(args, connection, request, expected_status, expected_location)
            if problem:
                counts["wrong"] += 1
                stats.errors.append(f"verify GET /f{i} (PUT acknowledged at t={keys[i]:.3f}s): {problem}")
            else:
                counts["right"] += 1
        if connection is not None:
            connection[1].close()

    await asyncio.gather(*(reader_task() for _ in range(args.get_connections + args.put_connections)))
    return counts["right"], counts["wrong"], len(queue)


async def main_async(args):
    print(f"failover-start epoch={time.time():.3f}", flush=True)
    stats = Stats(time.monotonic())
    deadline = stats.start + args.duration_s
    put_counter = iter(range(1, 1 << 62))
    acknowledged = {}  # PUT key index -> when its 200 arrived, seconds since the start
    tasks = [client(args, stats, GET, lambda: random.randint(1, args.keys), deadline, acknowledged)
             for _ in range(args.get_connections)]
    tasks += [client(args, stats, PUT, lambda: next(put_counter), deadline, acknowledged)
              for _ in range(args.put_connections)]
    await asyncio.gather(*tasks)
    right, wrong, unchecked = await verify(args, stats, acknowledged)
    return stats, right, wrong, unchecked


def write_outputs(args, stats):
    columns = ["GET_ok", "PUT_ok", "GET_err", "PUT_err", "GET_max_ms", "PUT_max_ms", "GET_p99_ms", "PUT_p99_ms"]
    with open(f"{args.out_dir}/per_second.csv", "w") as out:
        out.write("second," + ",".join(columns) + "\n")
        for second in range(int(args.duration_s)):  # the answers after the deadline only count in the totals
            row = stats.seconds.get(second)
            if row is None:
                continue
            for method in (GET, PUT):
                latencies = sorted(row[f"{method}_ms"])
                row[f"{method}_p99_ms"] = latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)] if latencies else 0.0
            out.write(f"{second}," + ",".join(f"{row[c]:.1f}" if c.endswith("ms") else str(row[c]) for c in columns) + "\n")
    with open(f"{args.out_dir}/errors.txt", "w") as out:
        out.writelines(line + "\n" for line in stats.errors)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", type=int, required=True)
    parser.add_argument("--duration-s", type=float, required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--get-connections", type=int, default=8)
    parser.add_argument("--put-connections", type=int, default=4)
    parser.add_argument("--timeout-s", type=float, default=5)
    parser.add_argument("--verify-timeout-s", type=float, default=120)
    args = parser.parse_args()
    stats, right, wrong, unchecked = asyncio.run(main_async(args))
    write_outputs(args, stats)
    total = {key: sum(row[key] for row in stats.seconds.values()) for key in ("GET_ok", "PUT_ok", "GET_err", "PUT_err")}
    print(f"failover-result get_ok={total['GET_ok']} put_ok={total['PUT_ok']} get_errors={total['GET_err']} "
          f"put_errors={total['PUT_err']} verified={right} verify_wrong={wrong} verify_unchecked={unchecked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
