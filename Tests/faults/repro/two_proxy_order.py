#!/usr/bin/env python3
"""two_proxy_order.py: does a write acknowledged later always win over one acknowledged
earlier, when the two went through different proxies?

    python3 Tests/faults/repro/two_proxy_order.py [--bin-dir DIR] [--rounds 2000] [--fsync always|never]

Each proxy mints versions from its own hybrid clock (milliseconds, a counter, its proxy id) and
observes no other proxy's versions. So when one client writes a key through proxy 1, gets its
200, then writes the same key through proxy 2 within the same millisecond, proxy 2's version
can be the lower one (its counter is behind proxy 1's): the later write loses, and the key
keeps the earlier value although the later write was acknowledged after it.

One client, strictly sequential: PUT k=a<i> through one proxy, PUT k=b<i> through the other,
GET k; every answer must be b<i>. Rounds alternate which proxy goes first: within one
millisecond both counters are usually 0 and the proxy id breaks the tie, so only the order
"proxy 2 then proxy 1" can invert. Four nodes, two proxies, all on loopback with free
ports; every process is stopped by PID on exit. Prints how many rounds read the older value
and exits 1 if any did.
"""
import argparse
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(argv, log):
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
    line = process.stdout.readline().decode()
    if not line.startswith("listening on "):
        raise RuntimeError(f"{argv[0]} did not start: {line!r}")
    return process


def request(connection, method, path):
    connection.request(method, path, headers={"Host": "repro"})
    response = connection.getresponse()
    response.read()
    return response.status, response.getheader("Location")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                          "..", "..", "..", ".build", "release"))
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--fsync", default="always")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="linkring-two-proxies.")
    processes = []
    try:
        nodes = [f"127.0.0.1:{free_port()}" for _ in range(4)]
        hosts = os.path.join(work, "hosts.txt")
        with open(hosts, "w", encoding="utf-8") as out:
            out.writelines(f"{node}\n" for node in nodes)
        log = open(os.path.join(work, "servers.log"), "wb")
        for index, node in enumerate(nodes):
            processes.append(start([os.path.join(args.bin_dir, "linkring-node"), "--listen", node, "--data",
                                    os.path.join(work, f"n{index}"), "--hosts", hosts, "--fsync", args.fsync], log))
        proxies = []
        for proxy_id in (1, 2):
            address = f"127.0.0.1:{free_port()}"
            processes.append(start([os.path.join(args.bin_dir, "linkring-proxy"), "--listen", address, "--hosts", hosts,
                                    "--proxy-id", str(proxy_id), "--status-interval-s", "0"], log))
            proxies.append(http.client.HTTPConnection(*address.split(":"), timeout=10))
        time.sleep(1.5)
        older = 0
        for round_number in range(args.rounds):
            key = f"x{round_number % 50}"
            early, late = (proxies[0], proxies[1]) if round_number % 2 == 0 else (proxies[1], proxies[0])
            first = request(early, "PUT", f"/?short={key}&long=http://a/{round_number}")
            second = request(late, "PUT", f"/?short={key}&long=http://b/{round_number}")
            read = request(early, "GET", f"/{key}")
            if first[0] != 200 or second[0] != 200:
                raise RuntimeError(f"round {round_number}: PUT answered {first[0]}, {second[0]}")
            if read[1] != f"http://b/{round_number}":
                older += 1
                if older <= 3:
                    print(f"round {round_number}: GET {key} answered {read[1]} after PUT b/{round_number} was acknowledged")
        print(f"{older} of {args.rounds} rounds read the value acknowledged earlier (fsync {args.fsync})")
        return 1 if older else 0
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
