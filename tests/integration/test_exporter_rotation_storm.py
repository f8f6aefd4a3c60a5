"""Rotation storm with a kill -9 in the middle: exported counters equal records written, exactly.

A Python writer appends 20,000 accounting records while rotating the file in all four ways
(rename-and-create, move-to into archive/, copytruncate, delete of a rotated file the exporter has
open). Halfway the exporter is killed with SIGKILL; while it is down the writer keeps writing and
rotates (rename, move-to, copytruncate: a file deleted before the exporter ever opened it cannot be
counted, see docs/exporter.md). The exporter restarts from its state file. The test waits on
conditions (scrapes), never on sleeps.
"""
import os
import shutil

from harness.exporter import ACCT_HEADER as HEADER, Exporter, acct_record as record, total

TOTAL = 20000
BATCH = 250


class Writer:
    def __init__(self, d):
        self.d = d
        self.cur = os.path.join(d, "acct.csv")
        self.n = 0
        self.rot = 0
        self._new()

    def _new(self):
        with open(self.cur, "a", newline="") as f:
            f.write(HEADER)

    def write(self, count):
        with open(self.cur, "a", newline="") as f:
            for _ in range(count):
                f.write(record(self.n))
                self.n += 1

    def rotated_name(self):
        self.rot += 1
        return "acct-%05d.csv" % self.rot

    def rename(self):
        os.rename(self.cur, os.path.join(self.d, self.rotated_name()))
        self._new()

    def move_to(self):
        os.rename(self.cur, os.path.join(self.d, "archive", self.rotated_name()))
        self._new()

    def copytruncate(self):
        shutil.copyfile(self.cur, os.path.join(self.d, self.rotated_name()))
        with open(self.cur, "r+") as f:
            f.truncate(0)
        self._new()

    def rename_then_delete(self):
        """Rotate away with unread records in it, then delete it: read through the open fd."""
        old = os.path.join(self.d, self.rotated_name())
        os.rename(self.cur, old)
        self._new()
        os.unlink(old)


def records(s):
    return total(s, "outpost_acct_records_total")


def test_rotation_storm_with_kill9_counts_exactly_once(tmp_path):
    d = tmp_path / "log"
    (d / "archive").mkdir(parents=True)
    state = str(tmp_path / "state.json")
    args = ["--acct-path", str(d / "acct*.csv"), "--acct-path", str(d / "archive" / "*.csv"),
            "--state-file", state, "--from-start", "--poll-interval", "0.02",
            "--state-interval", "0.1", "--close-grace", "0.3"]
    w = Writer(str(d))
    e = Exporter(args).start()
    try:
        ops = [w.rename, w.move_to, w.copytruncate]
        step = 0
        while w.n < TOTAL // 2:
            w.write(BATCH)
            if step % 4 == 3:
                # Delete case: make sure the exporter has this file open (it has counted all
                # but the next batch), then write more, rotate it away and delete it.
                n = w.n
                e.wait_for(lambda s: records(s) >= n, what="catch up before delete")
                w.write(BATCH)
                w.rename_then_delete()
            else:
                ops[step % 3]()
            step += 1
        # Deleted files must have been read before the kill (a file deleted while the exporter
        # is down is gone); then more rotations and records that are surely not yet persisted.
        n = w.n
        e.wait_for(lambda s: records(s) >= n, what="catch up before the kill")
        for op in ops:
            w.write(BATCH)
            op()
        w.write(BATCH)
        e.kill9()

        # Down: keep writing and rotating (no deletes of unread files: those cannot be counted).
        for op in ops:
            w.write(BATCH)
            op()
        w.write(BATCH)

        e = Exporter(args).start()
        step = 0
        while w.n < TOTAL:
            w.write(min(BATCH, TOTAL - w.n))
            ops[step % 3]()
            step += 1
        s = e.wait_for(lambda s: records(s) >= TOTAL, deadline_s=120, what="all records")
        writes = total(s, "outpost_exporter_state_writes_total")
        # Let it run a few more snapshots: nothing is counted twice later either.
        s = e.wait_for(lambda s: total(s, "outpost_exporter_state_writes_total") >= writes + 3,
                       what="more state writes")
        assert records(s) == TOTAL
        assert total(s, "outpost_acct_records_total", type="bounced") == TOTAL // 10
        assert total(s, "outpost_acct_bounces_total", category="bad-mailbox") == TOTAL // 10
        assert total(s, "outpost_acct_message_size_bytes_count") == TOTAL - TOTAL // 10
        assert total(s, "outpost_exporter_malformed_lines_total") == 0
        assert total(s, "outpost_exporter_rotations_total") >= 1
    finally:
        e.stop()
