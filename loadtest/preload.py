#!/usr/bin/env python3
"""preload.py: store keys kFIRST..kLAST -> http://example.com/page/I in a LinkRing node, fast.

    python3 loadtest/preload.py --port PORT --count N [--first 1] [--connections 64]
                                [--window 8] [--timeout-s 120]

Design: one selectors loop (no threads, no pip packages) drives C keep-alive connections, each
with up to W pipelined PUTs in flight, so the node's group commit sees many writes per
fdatasync even under --fsync always. Responses are parsed by Content-Length (the node always
sends one). Every PUT must be answered 200; afterwards a sample of keys (first, last, and 100
random ones) is read back and must be 307 with the right Location. The whole run is bounded by
--timeout-s. Prints one line: `preload-result keys=… seconds=… puts_per_s=… errors=…`; exits 1
on any error or time-out. The key space matches loadtest/wrk/keys.lua and gen_log.py.
"""
import argparse
import http.client
import random
import selectors
import socket
import sys
import time


def put_request(host, i):
    return (f"PUT /?short=k{i}&long=http://example.com/page/{i} HTTP/1.1\r\n"
            f"Host: {host}\r\n\r\n").encode()


def parse_responses(buffer):
    """Consumes whole responses from `buffer` (a bytearray); returns their status codes."""
    statuses = []
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return statuses
        head = bytes(buffer[:end]).lower()
        length, start = 0, head.find(b"\r\ncontent-length:")
        if start >= 0:
            line_end = head.find(b"\r\n", start + 2)
            length = int(head[start + 17:line_end if line_end >= 0 else len(head)])
        if len(buffer) < end + 4 + length:
            return statuses
        statuses.append(int(head[9:12]))
        del buffer[:end + 4 + length]


def load(args):
    host = f"127.0.0.1:{args.port}"
    selector = selectors.DefaultSelector()
    next_key, last_key = args.first, args.first + args.count - 1
    done, errors = 0, {}
    for _ in range(min(args.connections, args.count)):
        sock = socket.create_connection(("127.0.0.1", args.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        state = {"sock": sock, "out": bytearray(), "in": bytearray(), "inflight": 0}
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, state)
    deadline = time.monotonic() + args.timeout_s
    while done < args.count:
        if time.monotonic() > deadline:
            raise SystemExit(f"preload: time-out after {args.timeout_s}s with {done}/{args.count} keys stored")
        for key, events in selector.select(timeout=1.0):
            state = key.data
            if events & selectors.EVENT_READ:
                chunk = state["sock"].recv(262144)
                if not chunk:
                    raise SystemExit(f"preload: the node closed a connection ({done}/{args.count} stored)")
                state["in"] += chunk
                for status in parse_responses(state["in"]):
                    state["inflight"] -= 1
                    done += 1
                    if status != 200:
                        errors[status] = errors.get(status, 0) + 1
            while state["inflight"] < args.window and next_key <= last_key:
                state["out"] += put_request(host, next_key)
                state["inflight"] += 1
                next_key += 1
            if state["out"] and events & selectors.EVENT_WRITE:
                sent = state["sock"].send(state["out"])
                del state["out"][:sent]
            wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if state["out"] else 0)
            if key.events != wanted:
                selector.modify(state["sock"], wanted, state)
    for key in list(selector.get_map().values()):
        key.fileobj.close()
    return errors


def verify(args):
    """Reads back a sample of keys; returns the number of wrong answers."""
    sample = {args.first, args.first + args.count - 1}
    sample.update(random.randint(args.first, args.first + args.count - 1) for _ in range(100))
    connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
    wrong = 0
    for i in sorted(sample):
        connection.request("GET", f"/k{i}")
        response = connection.getresponse()
        response.read()
        location = response.getheader("Location")
        if response.status != 307 or location != f"http://example.com/page/{i}":
            wrong += 1
            print(f"preload: GET /k{i} answered {response.status} Location {location}", file=sys.stderr)
    connection.close()
    return wrong


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--timeout-s", type=float, default=120)
    args = parser.parse_args()
    started = time.monotonic()
    errors = load(args)
    seconds = time.monotonic() - started
    wrong = verify(args)
    error_text = ",".join(f"{status}x{n}" for status, n in sorted(errors.items())) or "0"
    print(f"preload-result keys={args.count} seconds={seconds:.2f} puts_per_s={args.count / seconds:.0f} "
          f"errors={error_text} wrong_reads={wrong}")
    return 1 if errors or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
