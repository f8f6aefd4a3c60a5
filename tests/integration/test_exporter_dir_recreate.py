"""The accounting directory removed (rm -rf) and recreated while the exporter runs.

The exporter keeps answering /metrics (200) while the directory is gone, reads the records still
in the deleted files it holds open, and counts the recreated directory's files from their start:
the final counters equal the records written, exactly. Cases: the directory comes back with new
file names or with the same name as before (a new inode, whose number the file system may reuse
once the exporter has let the old one go), either at once (the exporter still holds the deleted
files open) or after the exporter has retired the old files. The test waits on conditions
(scrapes), never on sleeps.
"""
import os
import shutil
import urllib.request

import pytest

from harness.exporter import ACCT_HEADER as HEADER, Exporter, acct_record as record, total

FAST = ["--poll-interval", "0.02", "--state-interval", "0.1", "--close-grace", "0.3"]


class Writer:
    """Appends numbered records (each one distinct) to files in one directory."""

    def __init__(self, d):
        self.d = d
        self.n = 0

    def write(self, name, count):
        path = os.path.join(self.d, name)
        new = not os.path.exists(path)
        with open(path, "a", newline="") as f:
            if new:
                f.write(HEADER)
            for _ in range(count):
                f.write(record(self.n))
                self.n += 1
        return os.stat(path).st_ino


def records(s):
    return total(s, "outpost_acct_records_total")


def scrape_ok(e):
    """/metrics answers 200 with the exporter's own series."""
    with urllib.request.urlopen(e.url(), timeout=10) as r:
        assert r.status == 200
        text = r.read().decode()
    assert "outpost_exporter_files_followed" in text
    return text


@pytest.mark.parametrize("label,new_name,wait_retired", [
    ("new_names_at_once", "acct-new.csv", False),
    ("new_names_after_retire", "acct-new.csv", True),
    ("same_name_at_once", "acct.csv", False),
    ("same_name_after_retire", "acct.csv", True),
])
def test_directory_removed_and_recreated_counts_exactly(tmp_path, label, new_name, wait_retired):
    d = tmp_path / "log"
    d.mkdir()
    state = str(tmp_path / "state" / "state.json")  # kept outside the directory removed
    os.makedirs(os.path.dirname(state))
    w = Writer(str(d))
    e = Exporter(["--acct-path", str(d / "*.csv"), "--state-file", state, "--from-start"]
                 + FAST).start()
    try:
        w.write("acct-old.csv", 300)
        old_ino = w.write("acct.csv", 200)
        n = w.n
        e.wait_for(lambda s: records(s) == n and
                   total(s, "outpost_exporter_files_followed") == 2, what=f"{label}: first files")
        # Records appended after the exporter opened the file, then the directory is gone: they
        # are read through the descriptor the exporter holds.
        w.write("acct.csv", 150)
        shutil.rmtree(d)
        scrape_ok(e)
        if wait_retired:
            # Both deleted files read to their end and let go (after --close-grace).
            n = w.n
            e.wait_for(lambda s: records(s) == n and
                       total(s, "outpost_exporter_files_followed") == 0,
                       what=f"{label}: old files retired")
            scrape_ok(e)

        d.mkdir()
        new_ino = w.write(new_name, 2)  # short: under the 1 KiB fingerprint at first
        scrape_ok(e)
        w.write(new_name, 298)
        w.write("acct-second.csv", 100)
        assert w.n == 1050
        s = e.wait_for(lambda s: records(s) >= w.n, what=f"{label}: all records")
        writes = total(s, "outpost_exporter_state_writes_total")
        # A few more snapshots: nothing is counted twice later either.
        s = e.wait_for(lambda s: total(s, "outpost_exporter_state_writes_total") >= writes + 3,
                       what=f"{label}: more state writes")
        assert records(s) == w.n, label
        assert total(s, "outpost_acct_records_total", type="bounced") == w.n // 10, label
        assert total(s, "outpost_acct_message_size_bytes_count") == w.n - w.n // 10, label
        assert total(s, "outpost_exporter_malformed_lines_total") == 0, label
        assert total(s, "outpost_exporter_rotations_total") >= 2, label  # both files left
        assert total(s, "outpost_exporter_state_write_errors_total") == 0, label
        if new_name == "acct.csv" and not wait_retired:
            assert new_ino != old_ino  # the old inode was still held open: a new number
    finally:
        e.stop()


def test_restart_after_directory_recreated_counts_exactly(tmp_path):
    """State saved before the directory went away; the exporter restarts after it came back with
    a file of the old name: the old positions must not be applied to the new file."""
    d = tmp_path / "log"
    d.mkdir()
    state = str(tmp_path / "state.json")
    w = Writer(str(d))
    args = ["--acct-path", str(d / "*.csv"), "--state-file", state, "--from-start"] + FAST
    e = Exporter(args).start()
    try:
        w.write("acct.csv", 500)
        s = e.wait_for(lambda s: records(s) == w.n, what="first file")
        writes = total(s, "outpost_exporter_state_writes_total")
        e.wait_for(lambda s: total(s, "outpost_exporter_state_writes_total") >= writes + 2,
                   what="state saved")
    finally:
        e.stop()
    shutil.rmtree(d)
    d.mkdir()
    w.write("acct.csv", 120)  # may get the old inode number; shorter than the old offset
    w.write("acct.csv", 80)
    e = Exporter(args).start()
    try:
        s = e.wait_for(lambda s: records(s) >= w.n, what="new file after restart")
        writes = total(s, "outpost_exporter_state_writes_total")
        s = e.wait_for(lambda s: total(s, "outpost_exporter_state_writes_total") >= writes + 3,
                       what="more state writes")
        assert records(s) == w.n
        assert total(s, "outpost_exporter_malformed_lines_total") == 0
    finally:
        e.stop()
