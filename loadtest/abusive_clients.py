#!/usr/bin/env python3
"""abusive_clients.py: issue 12's client scenarios against a real node or proxy, with figures.

    loadtest/abusive_clients.py BIN_DIR pipeline   # 30,000 GETs written before reading; 3,000 4 KB PUTs
    loadtest/abusive_clients.py BIN_DIR memory [N] # N (300) connections that pipeline and never read: RSS
    loadtest/abusive_clients.py BIN_DIR fairness   # 10,100 idle sockets from 127.0.0.1, then 127.0.0.2

Each starts one node (--fsync never) and a proxy in front of 4 nodes on free loopback ports in a
temporary directory, runs the scenario against both, prints one line per figure, and stops every
process it started by PID. Every wait is bounded (a stalled server shows as a count short of
the total, never as a hang). Writes from 127.0.0.2 need nothing on Linux (all of 127/8 is local).
"""
import os, select, socket, subprocess, sys, tempfile, threading, time

LONG = "x" * 4000


def start(binary, args, log):
    process = subprocess.Popen([binary] + args, stdout=subprocess.PIPE, stderr=open(log, "w"))
    line = process.stdout.readline().decode()
    if not line.startswith("listening on "):
        raise SystemExit(f"{binary} did not start: see {log}")
    return process, int(line.strip().rsplit(":", 1)[1])


def servers(bin_dir, work):
    """Yields (name, port, pid) for a lone node and for a proxy in front of 4 nodes."""
    node, node_port = start(f"{bin_dir}/linkring-node", ["--listen", "127.0.0.1:0", "--data", f"{work}/lone", "--fsync", "never"], f"{work}/lone.err")
    ports = []
    for _ in range(4):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    with open(f"{work}/hosts", "w") as hosts:
        hosts.writelines(f"127.0.0.1:{port}\n" for port in ports)
    nodes = [start(f"{bin_dir}/linkring-node", ["--listen", f"127.0.0.1:{port}", "--data", f"{work}/n{i}", "--hosts", f"{work}/hosts",
                                                   "--fsync", "never"], f"{work}/n{i}.err")[0] for i, port in enumerate(ports)]
    proxy, proxy_port = start(f"{bin_dir}/linkring-proxy", ["--listen", "127.0.0.1:0", "--hosts", f"{work}/hosts", "--status-interval-s", "0"], f"{work}/proxy.err")
    try:
        deadline = time.time() + 10
        while time.time() < deadline and b" 200 " not in request(proxy_port, b"GET /_/health HTTP/1.1\r\n\r\n"):
            time.sleep(0.1)
        yield "node", node_port, node.pid
        yield "proxy", proxy_port, proxy.pid
    finally:
        for process in [node, proxy] + nodes:
            process.terminate()
            process.wait(15)


def request(port, data, source="127.0.0.1"):
    with connect(port, source) as client:
        client.sendall(data)
        client.settimeout(5)
        return client.recv(65536)


def connect(port, source="127.0.0.1"):
    client = socket.socket()
    client.bind((source, 0))
    client.connect(("127.0.0.1", port))
    return client


def send_all(client, data, timeout_s=5.0):
    """Sends `data` unless the peer stops taking it for `timeout_s`; returns the bytes sent."""
    client.setblocking(False)
    sent = 0
    while sent < len(data):
        if not select.select([], [client], [], timeout_s)[1]:
            break
        try:
            sent += client.send(data[sent:sent + (1 << 20)])
        except BlockingIOError:
            pass
    return sent


def count_answers(client, expected, timeout_s=5.0):
    """Reads until `expected` status lines arrived or nothing came for `timeout_s`."""
    client.setblocking(False)
    seen, tail = 0, b""
    while seen < expected and select.select([client], [], [], timeout_s)[0]:
        chunk = client.recv(1 << 20)
        if not chunk:
            break
        data = tail + chunk
        seen += data.count(b"HTTP/1.1 ")
        tail = data[-8:].replace(b"HTTP/1.1 ", b"")
    return seen


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def store(port, keys):
    with connect(port) as client:
        client.sendall(b"".join(f"PUT /?short=p{i}&long=http://p/{i}/{LONG} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for i in range(keys)))
        count_answers(client, keys)


def pipeline(name, port, pid):
    store(port, 100)
    gets = b"".join(f"GET /p{i % 100} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for i in range(30000))
    with connect(port) as client:
        started = time.time()
        sent = send_all(client, gets)
        answered = count_answers(client, 30000)
        print(f"{name}: 30,000 pipelined GETs written before reading: {sent} of {len(gets)} bytes sent, {answered} answered, {time.time() - started:.1f} s")
    puts = b"".join(f"PUT /?short=q{i}&long=http://q/{i}/{LONG} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for i in range(3000))
    with connect(port) as client:
        started = time.time()
        result = {}
        writer = threading.Thread(target=lambda: result.update(sent=send_all(client, puts)))
        writer.start()
        answered = count_answers(client, 3000)
        writer.join()
        print(f"{name}: 3,000 pipelined 4 KB PUTs written while reading: {result['sent']} of {len(puts)} bytes sent, {answered} answered, {time.time() - started:.1f} s")


def memory(name, port, pid, connections):
    store(port, 10)
    gets = b"".join(f"GET /p{i % 10} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for i in range(1000))
    before = rss_kb(pid)
    clients = []
    for _ in range(connections):
        client = connect(port)
        send_all(client, gets, timeout_s=0.1)
        clients.append(client)
    during = before
    for _ in range(20):
        time.sleep(0.25)
        now = rss_kb(pid)
        if now == during:
            break
        during = now
    for client in clients:
        client.close()
    time.sleep(2.5)
    after = rss_kb(pid)
    print(f"{name}: {connections} connections pipelining 1,000 GETs (4 KB answers), never reading: RSS {before // 1024} MiB before, "
          f"{during // 1024} MiB with them ({(during - before) // connections} KiB each), {after // 1024} MiB 2.5 s after they closed")


def fairness(name, port, pid):
    idle, refused, closed = [], 0, 0
    for _ in range(10100):
        idle.append(connect(port))
    time.sleep(0.5)
    for client in idle:
        client.setblocking(False)
        try:
            answer = client.recv(64)
            refused += answer.startswith(b"HTTP/1.1 503")
            closed += answer == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    other = request(port, b"GET /p0 HTTP/1.1\r\nHost: t\r\n\r\n", source="127.0.0.2")
    print(f"{name}: 10,100 idle connections from 127.0.0.1: {refused} answered 503, {closed} closed at once, "
          f"{10100 - refused - closed} held; a request from 127.0.0.2 got {other[:12].decode()!r}")
    for client in idle:
        client.close()


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in ("pipeline", "memory", "fairness"):
        raise SystemExit(__doc__)
    bin_dir, scenario = sys.argv[1], sys.argv[2]
    import resource
    resource.setrlimit(resource.RLIMIT_NOFILE, (12000, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    with tempfile.TemporaryDirectory(prefix="linkring-abuse-") as work:
        for name, port, pid in servers(bin_dir, work):
            if scenario == "memory":
                memory(name, port, pid, int(sys.argv[3]) if len(sys.argv) > 3 else 300)
            else:
                globals()[scenario](name, port, pid)


if __name__ == "__main__":
    main()
