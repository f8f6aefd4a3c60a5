"""outpost_exporter's accounting half, end to end: real files, real scrapes, real promtool."""
import os
import shutil
import subprocess

import pytest

from harness.exporter import Exporter, find_testdata_dir, total

FAST = ["--poll-interval", "0.05", "--state-interval", "0.1", "--close-grace", "0.5"]


@pytest.fixture
def running(tmp_path):
    started = []

    def run(*args):
        e = Exporter(list(args) + FAST).start()
        started.append(e)
        return e

    yield run
    for e in started:
        e.stop()


def copy_testdata(dst):
    """Copies the two fixtures whose counts tests/data/README.md gives; a missing one fails."""
    src = find_testdata_dir()
    for n in ["acct-default.csv", "acct-imprinted-unixtime.csv"]:
        path = os.path.join(src, n)
        if not os.path.exists(path):
            pytest.fail("missing test fixture %s (regenerate with: python3 tests/data/gen_acct.py "
                        "fixtures)" % path, pytrace=False)
        shutil.copy(path, dst / n)


def test_testdata_files_give_readme_counts(tmp_path, running):
    copy_testdata(tmp_path)
    e = running("--acct-path", str(tmp_path / "acct-*.csv"), "--state-file",
                str(tmp_path / "state.json"), "--from-start")
    s = e.wait_for(lambda s: total(s, "outpost_exporter_lines_read_total") >= 12, what="12 lines")
    # tests/data/README.md: default file 1 r, 2 d, 1 t, 2 b, 1 tq; imprinted file 1 d, 1 b, 1 t.
    assert total(s, "outpost_acct_records_total", type="received") == 1
    assert total(s, "outpost_acct_records_total", type="delivered") == 3
    assert total(s, "outpost_acct_records_total", type="deferred") == 2
    assert total(s, "outpost_acct_records_total", type="bounced") == 3
    assert total(s, "outpost_acct_records_total", type="queue_failure") == 1
    assert total(s, "outpost_acct_bounces_total", category="bad-mailbox") == 1
    assert total(s, "outpost_acct_bounces_total", category="message-expired") == 1
    assert total(s, "outpost_acct_bounces_total", category="policy-related") == 1
    assert total(s, "outpost_acct_hard_bounces_total") == 1
    assert total(s, "outpost_exporter_malformed_lines_total") == 0
    assert total(s, "outpost_acct_records_total", provider="gmail") == 4
    assert total(s, "outpost_acct_delivery_delay_seconds_count") == 3
    # Never a recipient as a label value.
    assert "ann@gmail.com" not in e.scrape_text()


def test_promtool_check_metrics_on_live_scrape(tmp_path, running):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; scripts/install-deps.sh)")
    copy_testdata(tmp_path)
    e = running("--acct-path", str(tmp_path / "acct-*.csv"), "--state-file",
                str(tmp_path / "state.json"), "--from-start")
    e.wait_for(lambda s: total(s, "outpost_exporter_lines_read_total") >= 12, what="12 lines")
    text = e.scrape_text()
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_status_url_down_gives_up_zero_and_accounting_still_served(tmp_path, running):
    copy_testdata(tmp_path)
    # A port nobody listens on: bind one, close it, use its number.
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead_port = s.getsockname()[1]
    s.close()
    e = running("--acct-path", str(tmp_path / "acct-*.csv"), "--state-file",
                str(tmp_path / "state.json"), "--from-start", "--status-url",
                "http://127.0.0.1:%d/status.json" % dead_port, "--status-timeout", "0.5")
    s = e.wait_for(lambda s: total(s, "outpost_exporter_lines_read_total") >= 12, what="12 lines")
    assert total(s, "outpost_up") == 0
    assert total(s, "outpost_acct_records_total") == 10


def test_bad_flags_are_clear_errors(tmp_path):
    from harness.exporter import binary
    r = subprocess.run([binary(), "--acct-path", "x", "--listen", "nope"], capture_output=True,
                       text=True)
    assert r.returncode == 2
    assert "--listen" in r.stderr and "usage:" in r.stderr


def test_oneshot_reads_everything_prints_summary_and_resumes_from_state(tmp_path):
    """--oneshot: one pass, a JSON summary on stdout, and the state file continues exactly."""
    import json
    from harness.exporter import binary
    copy_testdata(tmp_path)
    state = str(tmp_path / "state.json")
    args = [binary(), "--oneshot", "--from-start", "--acct-path", str(tmp_path / "acct-*.csv"),
            "--state-file", state]
    first = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    assert first["records"] == 10 and first["records_read"] == 10 and first["lines"] == 12
    assert first["malformed_lines"] == 0
    assert first["max_rss_kib"] > 0 and first["records_per_second"] > 0
    # Nothing new: a second one-shot from the state file reads nothing more (totals restored).
    again = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    assert again["records"] == 10 and again["records_read"] == 0 and again["bytes"] == 0


HEADER = "type,timeLogged,timeQueued,orig,rcpt,dsnStatus,bounceCat,dlvSourceIp,dlvSize,vmta\r\n"
RECORD = ("d,2025-11-22 10:00:0{i}+0000,2025-11-22 10:00:00+0000,a@example.com,u{i}@gmail.com,"
          "2.0.0 (success),success,203.0.113.10,4211,vmta1")


def test_torn_last_line_is_reported_by_oneshot_and_counted_behind_live(tmp_path, running):
    """A last line without its line end: --oneshot says how many bytes it left and where; the live
    exporter waits for the line end and counts those bytes in outpost_exporter_behind_bytes."""
    import json
    from harness.exporter import binary
    acct = tmp_path / "acct.csv"
    torn = RECORD.format(i=2)
    acct.write_bytes((HEADER + RECORD.format(i=1) + "\r\n" + torn).encode())

    r = subprocess.run([binary(), "--oneshot", "--from-start", "--acct-path", str(acct)],
                       check=True, capture_output=True, text=True)
    summary = json.loads(r.stdout)
    assert summary["records"] == 1
    assert summary["unread_bytes"] == len(torn)
    assert summary["unread_files"] == [{"path": str(acct), "bytes": len(torn)}]
    assert (f"read 1 records; {len(torn)} bytes unread at the end of {acct} (no line end)"
            in r.stderr), r.stderr

    e = running("--acct-path", str(acct), "--state-file", str(tmp_path / "state.json"),
                "--from-start")
    e.wait_for(lambda s: total(s, "outpost_acct_records_total") == 1 and
               total(s, "outpost_exporter_behind_bytes") == len(torn), what="1 record, torn")
    with open(acct, "ab") as f:
        f.write(b"\r\n")
    e.wait_for(lambda s: total(s, "outpost_acct_records_total") == 2 and
               total(s, "outpost_exporter_behind_bytes") == 0, what="2 records, nothing behind")

    # The whole file now: a one-shot run reads both records and leaves nothing.
    r = subprocess.run([binary(), "--oneshot", "--from-start", "--acct-path", str(acct)],
                       check=True, capture_output=True, text=True)
    summary = json.loads(r.stdout)
    assert summary["records"] == 2 and summary["unread_bytes"] == 0
    assert summary["unread_files"] == [] and "unread" not in r.stderr
