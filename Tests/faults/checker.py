#!/usr/bin/env python3
"""checker.py: checks a LinkRing client history against last-writer-wins register semantics.

    python3 Tests/faults/checker.py HISTORY.jsonl [--no-final] [--show N]

A history is one JSON object per line, one per client operation (workload.py writes them):

    {"op": "put"|"del"|"get", "k": KEY, "v": VALUE, "t0": INVOKED, "t1": RETURNED,
     "r": "ok"|"fail"|"unknown", "final": true|false, ...}

For a put, "v" is the value written; for a get, the value read ("v": null for a 404). Times are
seconds on one monotonic clock shared by every client. "ok" is an acknowledged operation (PUT
200; DELETE 200 or 404; GET 307 or 404), "fail" a definite error answer (503), "unknown" a
time-out or broken connection. Final reads ("final": true) are the read-back of every key after
the faults ended and the cluster healed.

The model. The proxy mints a write's version (a hybrid timestamp, strictly increasing per
proxy) while the write is in flight, and every replica keeps the highest version it has seen.
So a write W that returned before an acknowledged write A was invoked has a lower version than
A: once A is acknowledged, W can never be read again. Everything else may still be read:

    a read R may return the value of write W  iff  W.invoked <= R.returned
                                              and  W.returned >= M(R)
    M(R) = the latest invocation of an acknowledged write (put or delete) of the key that
           returned before R was invoked  (minus infinity when there is none)

A 404 is the value of a delete (or of the initial state, allowed only while M(R) is minus
infinity). A failed write (503) may still have reached a replica, so its value stays allowed
until a later acknowledged write supersedes it; an unknown write may take effect at any time,
so for it "returned" is infinity. One rule therefore covers every property the suite claims:

    phantom-read        a GET returned a value no client ever wrote for that key
    future-read         a GET returned a value whose write began after the GET returned
    stale-read          a GET during the run missed a write acknowledged before it began
    lost-write          after healing, an acknowledged PUT is missing or older (final read)
    resurrected-delete  after healing, a value an acknowledged DELETE removed is back
    unreadable          after healing, a written key could not be read at all

Cost: per key, acknowledged writes are sorted by return time with a running maximum of their
invocation times, so M(R) is one binary search; a read is checked in O(log n + candidates).
"""
import argparse
import bisect
import json
import sys
from dataclasses import dataclass, field

INF = float("inf")
WRITES = ("put", "del")
KINDS = ("phantom-read", "future-read", "stale-read", "lost-write", "resurrected-delete", "unreadable")
LOST_KINDS = ("lost-write", "resurrected-delete")


@dataclass(frozen=True)
class Op:
    """One client operation. `value` is written (put) or read (get; None for a 404)."""
    op: str
    key: str
    value: str | None
    invoked: float
    returned: float
    result: str
    final: bool = False
    detail: str = ""

    @property
    def effective_return(self) -> float:
        """When a write stops being able to take effect: never, for an unknown outcome."""
        return INF if self.result == "unknown" else self.returned

    def describe(self) -> str:
        shown = "404" if self.value is None and self.op != "put" else self.value
        end = "?" if self.result == "unknown" else f"{self.returned:.3f}"
        return f"{self.op} {self.key} {shown} [{self.invoked:.3f}..{end}] {self.result}"


@dataclass(frozen=True)
class Violation:
    kind: str
    read: Op
    why: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.read.describe()}: {self.why}"


@dataclass
class Report:
    violations: list = field(default_factory=list)
    reads_checked: int = 0
    keys: int = 0

    def count(self, kind: str) -> int:
        return sum(1 for v in self.violations if v.kind == kind)

    @property
    def lost_acknowledged_writes(self) -> int:
        return sum(1 for v in self.violations if v.kind in LOST_KINDS)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        counts = " ".join(f"{kind}={self.count(kind)}" for kind in KINDS)
        return f"{self.keys} keys, {self.reads_checked} reads checked: {counts}"


class KeyHistory:
    """The writes of one key, indexed for the read rule above."""

    def __init__(self, writes: list):
        acked = sorted((w for w in writes if w.result == "ok"), key=lambda w: w.returned)
        self.acked_returns = [w.returned for w in acked]
        self.frontier = []  # frontier[i]: the acked write with the latest invocation among acked[:i+1]
        for write in acked:
            best = self.frontier[-1] if self.frontier else None
            self.frontier.append(write if best is None or write.invoked > best.invoked else best)
        self.puts_by_value = {}
        for write in writes:
            if write.op == "put":
                self.puts_by_value.setdefault(write.value, []).append(write)
        deletes = sorted((w for w in writes if w.op == "del"), key=lambda w: w.invoked)
        self.delete_invocations = [d.invoked for d in deletes]
        self.latest_delete_return = []  # running maximum of effective returns, by invocation
        for delete in deletes:
            previous = self.latest_delete_return[-1] if self.latest_delete_return else -INF
            self.latest_delete_return.append(max(previous, delete.effective_return))

    def superseding_write(self, read: Op):
        """The acknowledged write that sets M(read), or None when no write returned before it."""
        index = bisect.bisect_left(self.acked_returns, read.invoked)
        return self.frontier[index - 1] if index > 0 else None

    def check(self, read: Op):
        """Returns a Violation, or None when the read is allowed."""
        newest = self.superseding_write(read)
        floor = newest.invoked if newest else -INF
        if read.value is None:
            return None if self._delete_allowed(read, floor) else self._missed(read, newest)
        candidates = self.puts_by_value.get(read.value, [])
        if not candidates:
            return Violation("phantom-read", read, "no client wrote this value for this key")
        begun = [w for w in candidates if w.invoked <= read.returned]
        if not begun:
            return Violation("future-read", read, f"its write began later: {candidates[0].describe()}")
        if any(w.effective_return >= floor for w in begun):
            return None
        return self._missed(read, newest)

    def _delete_allowed(self, read: Op, floor: float) -> bool:
        if floor == -INF:
            return True  # nothing acknowledged yet: the key may still be absent
        count = bisect.bisect_right(self.delete_invocations, read.returned)
        return count > 0 and self.latest_delete_return[count - 1] >= floor

    @staticmethod
    def _missed(read: Op, newest: Op) -> Violation:
        why = f"acknowledged before this read began: {newest.describe()}"
        if not read.final:
            return Violation("stale-read", read, why)
        return Violation("resurrected-delete" if newest.op == "del" else "lost-write", read, why)


def op_from_record(record: dict) -> Op:
    return Op(op=record["op"], key=record["k"], value=record.get("v"), invoked=float(record["t0"]),
              returned=float(record["t1"]), result=record["r"], final=bool(record.get("final", False)),
              detail=str(record.get("st") or record.get("err") or ""))


def load_history(path: str) -> list:
    with open(path, encoding="utf-8") as lines:
        return [op_from_record(json.loads(line)) for line in lines if line.strip()]


def check(ops: list, require_final: bool = True) -> Report:
    """Checks every acknowledged read, and (with require_final) that every written key was read back."""
    writes_by_key, reads = {}, []
    for op in ops:
        if op.op in WRITES:
            writes_by_key.setdefault(op.key, []).append(op)
        elif op.op == "get":
            reads.append(op)
        else:
            raise ValueError(f"unknown operation {op.op!r}")
    report = Report(keys=len(writes_by_key))
    index = {key: KeyHistory(writes) for key, writes in writes_by_key.items()}
    empty = KeyHistory([])
    read_back = set()
    for read in reads:
        if read.result != "ok":
            continue
        report.reads_checked += 1
        if read.final:
            read_back.add(read.key)
        violation = index.get(read.key, empty).check(read)
        if violation:
            report.violations.append(violation)
    if require_final:
        for key in sorted(set(writes_by_key) - read_back):
            last = max(writes_by_key[key], key=lambda w: w.invoked)
            report.violations.append(Violation("unreadable", last, "no successful read-back after healing"))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description="Check a LinkRing client history (JSON lines).")
    parser.add_argument("history")
    parser.add_argument("--no-final", action="store_true", help="do not require a read-back of every written key")
    parser.add_argument("--show", type=int, default=20, help="violations to print (default 20)")
    args = parser.parse_args()
    report = check(load_history(args.history), require_final=not args.no_final)
    print(report.summary())
    for violation in report.violations[: args.show]:
        print(f"  {violation}")
    print("OK" if report.ok else f"FAILED: {len(report.violations)} violations")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
