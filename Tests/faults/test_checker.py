#!/usr/bin/env python3
"""test_checker.py: hand-made histories the checker must accept, and ones it must reject.

    python3 Tests/faults/test_checker.py      (python3 -m unittest, standard library only)

Each history is a few operations on one timeline; the helpers put(), delete() and get() take
(invoked, returned) and a result, so each case reads like a small timing diagram.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402  (the module under test, next to this file)


def put(key, value, invoked, returned, result="ok"):
    return checker.Op("put", key, value, invoked, returned, result)


def delete(key, invoked, returned, result="ok"):
    return checker.Op("del", key, None, invoked, returned, result)


def get(key, value, invoked, returned, result="ok", final=False):
    return checker.Op("get", key, value, invoked, returned, result, final=final)


def final(key, value, at=100.0):
    return get(key, value, at, at + 0.1, final=True)


class AcceptedHistories(unittest.TestCase):
    def assert_accepted(self, ops):
        report = checker.check(ops)
        self.assertTrue(report.ok, [str(v) for v in report.violations])

    def test_sequential_put_then_get(self):
        self.assert_accepted([put("a", "1", 0, 1), get("a", "1", 2, 3), final("a", "1")])

    def test_read_before_any_write_is_absent(self):
        self.assert_accepted([get("a", None, 0, 1), put("a", "1", 2, 3), final("a", "1")])

    def test_concurrent_writes_either_may_win(self):
        for winner in ("1", "2"):
            self.assert_accepted([put("a", "1", 0, 2), put("a", "2", 1, 3), get("a", winner, 4, 5), final("a", winner)])

    def test_read_concurrent_with_a_write_sees_old_or_new(self):
        for seen in ("1", "2"):
            self.assert_accepted([put("a", "1", 0, 1), put("a", "2", 2, 4), get("a", seen, 3, 3.5), final("a", "2")])

    def test_unknown_write_may_take_effect_later(self):
        self.assert_accepted([put("a", "1", 0, 1), put("a", "2", 2, 3, "unknown"), final("a", "2")])

    def test_unknown_write_may_never_take_effect(self):
        self.assert_accepted([put("a", "1", 0, 1), put("a", "2", 2, 3, "unknown"), final("a", "1")])

    def test_failed_write_may_have_reached_a_replica(self):
        self.assert_accepted([put("a", "1", 0, 1), put("a", "2", 2, 3, "fail"), final("a", "2")])

    def test_acknowledged_delete_then_absent(self):
        self.assert_accepted([put("a", "1", 0, 1), delete("a", 2, 3), get("a", None, 4, 5), final("a", None)])

    def test_write_after_a_delete_brings_the_key_back(self):
        self.assert_accepted([put("a", "1", 0, 1), delete("a", 2, 3), put("a", "2", 4, 5), final("a", "2")])

    def test_read_during_a_delete_may_see_the_value(self):
        self.assert_accepted([put("a", "1", 0, 1), delete("a", 2, 4), get("a", "1", 3, 3.5), final("a", None)])

    def test_failed_reads_are_not_judged(self):
        self.assert_accepted([put("a", "1", 0, 1), get("a", None, 2, 3, "fail"), final("a", "1")])

    def test_keys_are_independent(self):
        self.assert_accepted([put("a", "1", 0, 1), put("b", "1", 2, 3), final("a", "1"), final("b", "1")])


class RejectedHistories(unittest.TestCase):
    def assert_rejected(self, ops, kind):
        report = checker.check(ops)
        self.assertIn(kind, [v.kind for v in report.violations], report.summary())

    def test_lost_acknowledged_write(self):
        self.assert_rejected([put("a", "1", 0, 1), put("a", "2", 2, 3), final("a", "1")], "lost-write")

    def test_acknowledged_write_missing_entirely(self):
        self.assert_rejected([put("a", "1", 0, 1), final("a", None)], "lost-write")

    def test_deleted_value_comes_back(self):
        self.assert_rejected([put("a", "1", 0, 1), delete("a", 2, 3), final("a", "1")], "resurrected-delete")

    def test_failed_write_superseded_by_a_later_acknowledged_one(self):
        self.assert_rejected([put("a", "1", 0, 1, "fail"), put("a", "2", 2, 3), final("a", "1")], "lost-write")

    def test_value_nobody_wrote(self):
        self.assert_rejected([put("a", "1", 0, 1), get("a", "x", 2, 3), final("a", "1")], "phantom-read")

    def test_value_written_for_another_key(self):
        self.assert_rejected([put("a", "1", 0, 1), get("b", "1", 2, 3), final("a", "1")], "phantom-read")

    def test_value_from_the_future(self):
        self.assert_rejected([get("a", "1", 0, 1), put("a", "1", 2, 3), final("a", "1")], "future-read")

    def test_stale_read_during_the_run(self):
        self.assert_rejected([put("a", "1", 0, 1), put("a", "2", 2, 3), get("a", "1", 4, 5), final("a", "2")],
                             "stale-read")

    def test_stale_absent_read_after_an_acknowledged_write(self):
        self.assert_rejected([put("a", "1", 0, 1), get("a", None, 2, 3), final("a", "1")], "stale-read")

    def test_written_key_never_read_back(self):
        self.assert_rejected([put("a", "1", 0, 1)], "unreadable")

    def test_final_read_that_failed(self):
        self.assert_rejected([put("a", "1", 0, 1), get("a", None, 100, 101, "fail", final=True)], "unreadable")

    def test_counts_lost_acknowledged_writes(self):
        ops = [put("a", "1", 0, 1), put("a", "2", 2, 3), final("a", "1"),
               put("b", "1", 0, 1), delete("b", 2, 3), final("b", "1")]
        self.assertEqual(checker.check(ops).lost_acknowledged_writes, 2)


class CommandLine(unittest.TestCase):
    def run_checker(self, records):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as history:
            for record in records:
                history.write(json.dumps(record) + "\n")
        try:
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checker.py")
            return subprocess.run([sys.executable, script, history.name], capture_output=True, text=True, timeout=60)
        finally:
            os.unlink(history.name)

    def test_exit_status_follows_the_verdict(self):
        good = [{"op": "put", "k": "a", "v": "1", "t0": 0, "t1": 1, "r": "ok"},
                {"op": "get", "k": "a", "v": "1", "t0": 2, "t1": 3, "r": "ok", "final": True}]
        bad = good[:1] + [{"op": "get", "k": "a", "v": None, "t0": 2, "t1": 3, "r": "ok", "final": True}]
        self.assertEqual(self.run_checker(good).returncode, 0)
        result = self.run_checker(bad)
        self.assertEqual(result.returncode, 1)
        self.assertIn("lost-write", result.stdout)


if __name__ == "__main__":
    unittest.main()
