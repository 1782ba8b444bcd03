"""faults.py: the faults the suite injects, each with its undo, and a registry that undoes them all.

    process  kill -9 · SIGSTOP / SIGCONT                     (cluster.Process does the signals)
    network  link down: `ip -n NS link set eth0 down`       → the host hears and says nothing
             one way:   iptables OUTPUT DROP on eth0, inside the host's namespace
                        → the host hears every request (and may act on it) but cannot answer
    disk     a tmpfs of a few hundred KiB as a node's data directory, filled by a filler file

Every fault is registered with its undo in a Faults object; undo_all() runs what is still
registered (newest first) and never raises, so a scenario that fails half-way still leaves
every link up and every rule gone. The namespaces themselves, and so every veth and rule in
them, are deleted by run.bash's exit trap whatever happens here. The harness runs in its own
mount namespace (made by `ip netns exec`), so its tmpfs mounts are invisible outside the run
and vanish with its processes even if an unmount is missed.
"""
import errno
import os
import socket
import subprocess

FILL_CHUNK_BYTES = 4096


def command(*argv):
    """Runs a short system command; raises with its stderr when it fails."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr.strip() or result.returncode}")


class Faults:
    def __init__(self):
        self.undo = []  # (description, function), newest last

    def _register(self, description, function):
        self.undo.append((description, function))

    def _forget(self, description):
        self.undo = [(d, f) for d, f in self.undo if d != description]

    def undo_all(self):
        """Undoes every fault still in place; returns the descriptions of undos that failed."""
        failed = []
        for description, function in reversed(self.undo):
            try:
                function()
            except (OSError, RuntimeError, subprocess.SubprocessError) as error:
                failed.append(f"{description}: {error}")
        self.undo = []
        return failed

    # network

    def link_down(self, host):
        description = f"link down {host.name}"
        command("ip", "-n", host.namespace, "link", "set", "eth0", "down")
        self._register(description, lambda: command("ip", "-n", host.namespace, "link", "set", "eth0", "up"))

    def link_up(self, host):
        command("ip", "-n", host.namespace, "link", "set", "eth0", "up")
        self._forget(f"link down {host.name}")

    def drop_outgoing(self, host):
        description = f"drop outgoing {host.name}"
        rule = ("OUTPUT", "-o", "eth0", "-j", "DROP")
        command("ip", "netns", "exec", host.namespace, "iptables", "-w", "5", "-A", *rule)
        self._register(description, lambda: command("ip", "netns", "exec", host.namespace,
                                                    "iptables", "-w", "5", "-D", *rule))

    def allow_outgoing(self, host):
        command("ip", "netns", "exec", host.namespace, "iptables", "-w", "5", "-D", "OUTPUT", "-o", "eth0", "-j", "DROP")
        self._forget(f"drop outgoing {host.name}")

    # disk

    def silent_name_server(self):
        """Binds UDP port 53 in this namespace (ctl) and never reads it: every query to it goes
        unanswered until the socket closes. Raises OSError when the port cannot be bound."""
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sink.bind(("0.0.0.0", 53))
        except OSError:
            sink.close()
            raise
        self._register("silent name server", sink.close)

    def mount_tmpfs(self, directory, size):
        os.makedirs(directory, exist_ok=True)
        command("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", directory)
        self._register(f"tmpfs {directory}", lambda: unmount(directory))

    def fill(self, directory):
        """Writes a filler file until the filesystem is full; returns its path and size."""
        path = os.path.join(directory, "filler")
        open(path, "wb").close()
        self._register(f"filler {path}", lambda: os.path.exists(path) and os.unlink(path))
        return path, self.top_up(path)

    def top_up(self, path):
        """Appends to the filler until the filesystem is full again (compaction may free space
        meanwhile: a disk that is full stays full); returns the bytes added."""
        written = 0
        chunk = b"\0" * FILL_CHUNK_BYTES
        with open(path, "ab", buffering=0) as filler:
            while True:
                try:
                    written += filler.write(chunk)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    return written

    def unfill(self, path):
        os.unlink(path)
        self._forget(f"filler {path}")


def unmount(directory):
    """Unmounts directory; lazily when a process that is being killed still holds it."""
    try:
        command("umount", directory)
    except RuntimeError:
        command("umount", "-l", directory)
