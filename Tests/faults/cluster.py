"""cluster.py: LinkRing nodes and proxies, each in its own network namespace, for the fault suite.

    run.bash made the hosts (one namespace each, on one bridge); the harness runs in "ctl":

        ctl 10.211.N.1 ─┐                       ┌─ n0 10.211.N.10:7000   node
        p0  10.211.N.2 ─┤  bridge in "hub"      ├─ n1 10.211.N.11:7000   node
        p1  10.211.N.3 ─┘  (veth per host)      ├─ n2 10.211.N.12:7000   node
        proxies :8080                           └─ n3 10.211.N.13:7000   node

A Process is started as `ip netns exec NS BINARY …`; ip execs the binary, so the PID we hold is
the server's own and signals (SIGKILL, SIGSTOP, SIGCONT, SIGTERM) go straight to it. Each
process gets its own session (a Ctrl-C of the harness does not reach it; the harness stops it)
and appends stdout and stderr to files in the scenario directory, so restarts keep one log.
Every wait here is bounded and polls (20 ms); nothing blocks forever. HTTP to the servers is
plain http.client from the ctl namespace. The cluster runs with a cluster token, as the scripts
run it: every process reads it with --cluster-token-file, and a request straight to a node
(Node.request) carries it in X-Cluster-Token, since a node answers only /_/health without it.
The harness reads the operator routes (a proxy's /_/status, a node's full /_/health) from ctl,
another host: each process serves them on an admin address of its own host (--admin-listen
IP:9100), as an operator with a monitoring host would run it; the public port refuses them there.
"""
import datetime
import http.client
import json
import os
import re
import signal
import subprocess
import time

NODE_PORT = 7000
PROXY_PORT = 8080
ADMIN_PORT = 9100
POLL_S = 0.02
LOG_TIME_RESOLUTION_S = 0.001  # log lines carry milliseconds: an event in the same ms may print earlier
PROXY_EVENT = re.compile(r"^(\S+Z) \w+ node (\S+) is (\w+) \((\w+)\)$")


class Host:
    """A network namespace with one address on the bridge."""

    def __init__(self, name, namespace, ip):
        self.name, self.namespace, self.ip = name, namespace, ip


def http_request(address, method, path, timeout_s=2.0, token=None, body=None):
    """One request on a fresh connection: (status, headers with lower-case names, body bytes).
    With token, it carries X-Cluster-Token; with body (bytes), that body."""
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    headers = {"Host": "faults"}
    if token:
        headers["X-Cluster-Token"] = token
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def http_json(address, path, timeout_s=2.0):
    """The JSON body of a GET, or None when the server cannot be reached or answers otherwise."""
    try:
        status, _, body = http_request(address, "GET", path, timeout_s)
        return json.loads(body) if status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        return None


def wait_until(condition, timeout_s, poll_s=POLL_S):
    """Polls condition() until it returns something true; returns it, or None after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll_s)


def parse_wall(text):
    """Seconds since the epoch of an ISO time like 2026-11-25T00:26:49.832Z."""
    moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()


class Process:
    """One server process in a namespace; survives restarts as one object with one log."""

    def __init__(self, label, host, port, log_dir, binary):
        self.label, self.host, self.port, self.binary = label, host, port, binary
        self.address = f"{host.ip}:{port}"
        self.admin_address = f"{host.ip}:{ADMIN_PORT}"
        self.stdout_path = os.path.join(log_dir, f"{label}.out")
        self.stderr_path = os.path.join(log_dir, f"{label}.err")
        self.popen = None
        self.is_paused = False
        self.killed_by_harness = False
        self.starts = 0

    def argv(self):
        raise NotImplementedError

    def start(self, timeout_s=15.0):
        """Starts the process and waits for its "listening on" line; raises if it does not come."""
        offset = os.path.getsize(self.stdout_path) if os.path.exists(self.stdout_path) else 0
        with open(self.stderr_path, "a", encoding="utf-8") as log:
            log.write(f"=== faults harness: start {self.starts + 1} of {self.label} at {time.time():.3f}\n")
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.popen = subprocess.Popen(["ip", "netns", "exec", self.host.namespace] + self.argv(),
                                          stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        self.starts += 1
        self.is_paused = False
        self.killed_by_harness = False
        if not wait_until(lambda: self._listening(offset), timeout_s):
            raise RuntimeError(f"{self.label} printed no 'listening on' within {timeout_s}s (see {self.stderr_path})")

    def _listening(self, offset):
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.label} exited with status {self.popen.returncode} (see {self.stderr_path})")
        with open(self.stdout_path, "rb") as out:
            out.seek(offset)
            return b"listening on " in out.read()

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def is_running(self):
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum):
        if self.is_running():
            os.kill(self.popen.pid, signum)

    def kill9(self):
        """SIGKILL, then reap; returns at once (the kernel frees the process immediately)."""
        self.signal(signal.SIGKILL)
        self.killed_by_harness = True
        if self.popen is not None:
            self.popen.wait(timeout=10)
        self.is_paused = False

    def pause(self):
        self.signal(signal.SIGSTOP)
        self.is_paused = True

    def resume(self):
        self.signal(signal.SIGCONT)
        self.is_paused = False

    def stop(self, timeout_s=10.0):
        """SIGCONT and SIGTERM, wait up to timeout_s, then SIGKILL. Returns the exit status
        (negative: the signal that ended it), or None when the process was not running."""
        if not self.is_running():
            return None
        self.resume()
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill9()
            return self.popen.returncode

    def log_text(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as log:
            return log.read()


class Node(Process):
    def __init__(self, label, host, log_dir, bin_dir, data_dir, hosts_file, options, token):
        super().__init__(label, host, NODE_PORT, log_dir, os.path.join(bin_dir, "linkring-node"))
        self.data_dir, self.hosts_file, self.options, self.token = data_dir, hosts_file, list(options), token

    def argv(self):
        return [self.binary, "--listen", self.address, "--data", self.data_dir,
                "--hosts", self.hosts_file, "--admin-listen", self.admin_address] + self.options

    def health(self, timeout_s=1.0):
        """The full /_/health, from the admin address (the public port gives ctl only the state)."""
        return http_json(self.admin_address, "/_/health", timeout_s)

    def request(self, method, path, timeout_s=2.0, body=None):
        """A request straight to this node, with the cluster token: (status, headers, body)."""
        return http_request(self.address, method, path, timeout_s, self.token, body)

    def is_ready(self):
        health = self.health()
        return health is not None and health.get("state") == "ready"

    def wait_ready(self, timeout_s=30.0):
        """Seconds until /_/health says ready, or None."""
        began = time.monotonic()
        return time.monotonic() - began if wait_until(self.is_ready, timeout_s) else None

    def entry_of(self, key, timeout_s=2.0):
        """(X-Version, value or None for 404) that this node holds for key (version 0 when never
        written), or None if unreachable or refused (a 401 must not pass for a version every
        replica agrees on). The value matters: two writes can carry one version (two proxies
        with one --proxy-id), and replicas must still agree on which value they keep."""
        try:
            status, headers, body = self.request("GET", f"/_/kv?short={key}", timeout_s)
            if status not in (200, 404):
                return None
            return int(headers["x-version"]), (body if status == 200 else None)
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            return None


def clockshift_library(directory):
    """Tests/tools/clockshift.c built into directory: an LD_PRELOAD that moves one process's
    wall clock (and nothing else)."""
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "clockshift.c")
    library = os.path.join(directory, "clockshift.so")
    if not os.path.exists(library):
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", library, source, "-ldl"], check=True)
    return library


class Proxy(Process):
    """clock_shift_ms moves the proxy's wall clock (clockshift.c); its log's times move with
    it, so node_events takes the shift off again."""

    def __init__(self, label, host, log_dir, bin_dir, hosts_file, proxy_id, options, clock_shift_ms=0):
        super().__init__(label, host, PROXY_PORT, log_dir, os.path.join(bin_dir, "linkring-proxy"))
        self.hosts_file, self.proxy_id, self.options = hosts_file, proxy_id, list(options)
        self.clock_shift_ms = clock_shift_ms
        self.shim = clockshift_library(log_dir) if clock_shift_ms else None

    def argv(self):
        shift = ["env", f"LD_PRELOAD={self.shim}", f"LINKRING_CLOCK_SHIFT_MS={self.clock_shift_ms}"] if self.shim else []
        return shift + [self.binary, "--listen", self.address, "--hosts", self.hosts_file,
                        "--proxy-id", str(self.proxy_id), "--admin-listen", self.admin_address] + self.options

    def status(self, key=None):
        return http_json(self.admin_address, "/_/status" + (f"?key={key}" if key else ""))

    def is_healthy(self):
        try:
            return http_request(self.address, "GET", "/_/health", 1.0)[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def node_states(self):
        """address → (state, readiness) from /_/status, or {} when the proxy does not answer."""
        status = self.status() or {}
        return {n["address"]: (n["state"], n["readiness"]) for n in status.get("nodes", [])}

    def node_events(self):
        """Every node state change the proxy logged: (wall time, address, state, readiness)."""
        events = []
        for line in self.log_text().splitlines():
            match = PROXY_EVENT.match(line)
            if match:
                events.append((parse_wall(match[1]) - self.clock_shift_ms / 1000, match[2], match[3], match[4]))
        return events

    def first_event(self, address, after_wall, state, readiness=None):
        """Wall time of the first logged change of address to state (and readiness) after after_wall."""
        for wall, logged, logged_state, logged_readiness in self.node_events():
            if logged == address and wall >= after_wall - LOG_TIME_RESOLUTION_S and logged_state == state \
                    and readiness in (None, logged_readiness):
                return wall
        return None


class Cluster:
    """Four nodes and one or two proxies on the hosts run.bash made; one per scenario. `token`
    is the cluster token the options' --cluster-token-file holds (None: a cluster without one).
    `extra_entries` are more hosts-file lines after the nodes' (entries no process serves)."""

    def __init__(self, directory, bin_dir, hosts, node_options, proxy_options, data_dirs=None, token=None,
                 same_proxy_id=False, proxy_clock_shifts_ms=(), extra_entries=()):
        self.directory = directory
        self.hosts_file = os.path.join(directory, "hosts.txt")
        node_hosts = [h for h in hosts if h.name.startswith("n")]
        proxy_hosts = [h for h in hosts if h.name.startswith("p")]
        data_dirs = data_dirs or {}
        self.nodes = [Node(h.name, h, directory, bin_dir, data_dirs.get(h.name, os.path.join(directory, f"data-{h.name}")),
                           self.hosts_file, node_options, token) for h in node_hosts]
        shifts = list(proxy_clock_shifts_ms) + [0] * len(proxy_hosts)
        self.proxies = [Proxy(h.name, h, directory, bin_dir, self.hosts_file, 1 if same_proxy_id else index + 1, proxy_options,
                              shifts[index])
                        for index, h in enumerate(proxy_hosts)]
        with open(self.hosts_file, "w", encoding="utf-8") as hosts_file:
            hosts_file.write("# fault suite cluster: one namespace per node\n")
            hosts_file.writelines(f"{node.address}\n" for node in self.nodes)
            hosts_file.writelines(f"{entry}\n" for entry in extra_entries)

    def start(self, proxies=1, timeout_s=30.0):
        for node in self.nodes:
            node.start()
        for proxy in self.proxies[:proxies]:
            proxy.start()
        if not self.wait_healed(timeout_s, proxies=self.proxies[:proxies]):
            raise RuntimeError(f"cluster not ready within {timeout_s}s")

    def running_proxies(self):
        return [p for p in self.proxies if p.is_running()]

    def in_rotation(self, proxy, node):
        return proxy.node_states().get(node.address) == ("up", "ready")

    def wait_healed(self, timeout_s, proxies=None):
        """Every node ready, and every running proxy sees every node up and ready."""
        proxies = proxies if proxies is not None else self.running_proxies()

        def healed():
            if not all(node.is_ready() for node in self.nodes):
                return False
            return all(all(self.in_rotation(proxy, node) for node in self.nodes) for proxy in proxies)
        return wait_until(healed, timeout_s, poll_s=0.05) is not None

    def replicas(self, keys):
        """key → the nodes that hold it, primary first, as a running proxy's /_/status?key= says."""
        proxy = self.running_proxies()[0]
        by_address = {node.address: node for node in self.nodes}
        mapping = {}
        for key in keys:
            status = proxy.status(key) or {}
            mapping[key] = [by_address[a] for a in status.get("replicas", []) if a in by_address]
        return mapping

    def divergent_keys(self, replicas):
        """Keys whose replicas hold different versions or values (or could not be asked)."""
        divergent = []
        for key, nodes in replicas.items():
            entries = [node.entry_of(key) for node in nodes]
            if None in entries or len(set(entries)) != 1:
                divergent.append(key)
        return divergent

    def stop(self):
        """SIGTERM everything (nodes last); returns {label: exit status} of what was running."""
        statuses = {}
        for process in self.proxies + self.nodes:
            status = process.stop()
            if status is not None:
                statuses[process.label] = status
        return statuses
