#!/usr/bin/env python3
"""workload.py: concurrent read/write clients against LinkRing proxies; logs every operation.

    workload.py run --proxies HOST:PORT[,HOST:PORT] --history FILE [--keys 200] [--key-prefix k]
                    [--workers 6] [--hoppers 0] [--hot-keys 4] [--timeout-s 10] [--seed 1] [--mix 55,35,10] [--pause-ms 0]
        Runs until SIGTERM or SIGINT, lets each worker finish the operation it is in, exits 0.
    workload.py readback --proxies HOST:PORT[,…] --history FILE [--timeout-s 10] [--attempts 3]
        Reads every key written in FILE once through a proxy and appends the answers as final
        reads (a failed attempt is logged as an ordinary read and tried again, up to --attempts).

Design: threads, keep-alive HTTP/1.1 connections (http.client, standard library only), one
request in flight per worker, as a browser would send them. Worker W starts on proxy W mod P
and moves to the next proxy after any connection failure, so when a proxy dies its clients
switch to another. The first --hoppers workers move to the next proxy after every operation,
on the first --hot-keys keys only: one client whose consecutive writes of a key go through
different proxies (a round-robin balancer), the case where two proxies' clocks must still
order its writes. Each operation picks a key uniformly and an operation by --mix
(GET, PUT, DELETE percentages). A PUT writes a value no other write uses,
http://w/KEY/WORKER.SEQ, so any value read names the write that produced it.

Every operation becomes one JSON line in FILE (the format checker.py reads):
    op put|del|get · k key · v value written, or read (null for 404) · t0/t1 time.monotonic()
    at invocation and return (one clock for every process of the machine) · r ok|fail|unknown
    · st HTTP status (0 when none) · err what went wrong · w worker · px proxy index · final
Results: PUT 200, DELETE 200/404, GET 307/404 are "ok"; any other status, or a refused
connection (nothing was sent), is "fail"; a time-out, reset or close after the request was
sent is "unknown" (it may have taken effect).
"""
import argparse
import http.client
import json
import random
import signal
import socket
import sys
import threading
import time

OK_STATUSES = {"put": (200,), "del": (200, 404), "get": (307, 404)}
AVOID_S = 1.0


class History:
    """Appends JSON lines to a file from many threads."""

    def __init__(self, path, mode="a"):
        self.file = open(path, mode, encoding="utf-8", buffering=1 << 16)
        self.lock = threading.Lock()

    def write(self, record):
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self.lock:
            self.file.write(line)

    def close(self):
        with self.lock:
            self.file.close()


class Client:
    """Keep-alive connections to several proxies, one request at a time. A client stays on one
    proxy and moves to the next after a failure; a hopping client moves after every operation.
    Either skips, for AVOID_S, a proxy that just failed it (a client-side load balancer's
    ejection), so a dead proxy costs a hopping client one error, not one per hop."""

    def __init__(self, proxies, first, timeout_s, hopping=False):
        self.proxies = proxies
        self.index = first % len(proxies)
        self.timeout_s = timeout_s
        self.hopping = hopping
        self.connections = {}
        self.avoid_until = [0.0] * len(proxies)

    def _connection(self):
        if self.index not in self.connections:
            host, port = self.proxies[self.index].rsplit(":", 1)
            connection = http.client.HTTPConnection(host, int(port), timeout=self.timeout_s)
            connection.connect()  # raises ConnectionRefusedError before anything is sent
            self.connections[self.index] = connection
        return self.connections[self.index]

    def _close(self):
        connection = self.connections.pop(self.index, None)
        if connection is not None:
            connection.close()

    def _advance(self, failed):
        """Moves to the next proxy not avoided. When every other one is avoided, a client that
        just failed takes the one avoided longest ago; a hopping client that just succeeded stays."""
        others = [(self.index + step) % len(self.proxies) for step in range(1, len(self.proxies))]
        usable = [index for index in others if self.avoid_until[index] <= time.monotonic()]
        if usable:
            self.index = usable[0]
        elif failed and others:
            self.index = min(others, key=lambda index: self.avoid_until[index])

    def request(self, method, path):
        """Returns (status, location, error, sent): status 0 and an error string on failure."""
        sent = False
        try:
            connection = self._connection()
            sent = True
            connection.request(method, path, headers={"Host": "linkring"})
            response = connection.getresponse()
            response.read()
            if response.will_close:
                self._close()
            if self.hopping:
                self._advance(failed=False)
            return response.status, response.getheader("Location"), "", True
        except (OSError, http.client.HTTPException) as error:
            self._close()
            self.avoid_until[self.index] = time.monotonic() + AVOID_S
            self._advance(failed=True)
            return 0, None, describe(error), sent

    def close(self):
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()


def describe(error):
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, ConnectionResetError):
        return "reset"
    if isinstance(error, (http.client.RemoteDisconnected, http.client.IncompleteRead, BrokenPipeError)):
        return "closed"
    return type(error).__name__


def perform(client, op, key, value):
    """Runs one operation; returns its history record."""
    if op == "put":
        method, path = "PUT", f"/?short={key}&long={value}"
    else:
        method, path = ("GET" if op == "get" else "DELETE"), f"/{key}"
    proxy = client.index
    invoked = time.monotonic()
    status, location, error, sent = client.request(method, path)
    returned = time.monotonic()
    if status in OK_STATUSES[op]:
        result = "ok"
    elif status or not sent or error == "refused":
        result = "fail"
    else:
        result = "unknown"
    if op == "get":
        value = location if status == 307 else None
    return {"op": op, "k": key, "v": value, "t0": round(invoked, 6), "t1": round(returned, 6), "r": result,
            "st": status, "err": error, "px": proxy}


def choose_op(rng, mix):
    draw = rng.uniform(0, sum(mix))
    if draw < mix[0]:
        return "get"
    return "put" if draw < mix[0] + mix[1] else "del"


def worker(number, args, history, stop):
    rng = random.Random(args.seed * 1000 + number)
    hopping = number < args.hoppers
    client = Client(args.proxies, number, args.timeout_s, hopping=hopping)
    key_count = min(args.hot_keys, args.keys) if hopping else args.keys
    sequence = 0
    while not stop.is_set():
        key = f"{args.key_prefix}{rng.randrange(key_count)}"
        op = choose_op(rng, args.mix)
        value = None
        if op == "put":
            sequence += 1
            value = f"http://w/{key}/{number}.{sequence}"
        record = perform(client, op, key, value)
        record["w"] = number
        history.write(record)
        if record["err"] == "refused":
            stop.wait(0.02)  # the proxy is gone: do not spin while it restarts
        elif args.pause_ms:
            stop.wait(args.pause_ms / 1000)
    client.close()


def run(args):
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    history = History(args.history, "w")
    threads = [threading.Thread(target=worker, args=(n, args, history, stop), daemon=True) for n in range(args.workers)]
    for thread in threads:
        thread.start()
    print("workload running", flush=True)
    while not stop.is_set():
        stop.wait(0.2)
    for thread in threads:
        thread.join(args.timeout_s + 5)
    history.close()
    return 0


def written_keys(path):
    keys = set()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["op"] != "get":
                keys.add(record["k"])
    return sorted(keys)


def readback(args):
    keys = written_keys(args.history)
    history = History(args.history, "a")
    client = Client(args.proxies, 0, args.timeout_s)
    failed = 0
    for key in keys:
        for attempt in range(args.attempts):
            record = perform(client, "get", key, None)
            last = record["r"] == "ok" or attempt == args.attempts - 1
            record.update(w=-1, final=last)
            history.write(record)
            if last:
                failed += record["r"] != "ok"
                break
            time.sleep(0.5)
    client.close()
    history.close()
    print(f"readback {len(keys)} keys, {failed} unreadable", flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("run", "readback"))
    parser.add_argument("--proxies", required=True, type=lambda text: text.split(","))
    parser.add_argument("--history", required=True)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--key-prefix", default="k")
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--timeout-s", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mix", type=lambda text: [float(x) for x in text.split(",")], default=[55, 35, 10])
    parser.add_argument("--pause-ms", type=float, default=0)
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--hoppers", type=int, default=0, help="workers that change proxy after every operation")
    parser.add_argument("--hot-keys", type=int, default=4, help="hoppers use only the first N keys")
    args = parser.parse_args()
    return run(args) if args.command == "run" else readback(args)


if __name__ == "__main__":
    sys.exit(main())
