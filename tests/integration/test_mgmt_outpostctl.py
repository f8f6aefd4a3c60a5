"""outpostctl against a live outpostd: PowerMTA-style verbs, aligned tables, --json, and the exit
codes (0 ok, 1 error reply, 2 usage, 3 unreachable, 4 access denied)."""
import json
import smtplib
import subprocess

import pytest

from harness.mgmt import MgmtClient, start_outpostd
from harness.outpostd import binary, wait_for


def ctl(url, *args):
    p = subprocess.run([binary("outpostctl"), "--url", url, *args], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def daemon():
    d = start_outpostd()
    try:
        with smtplib.SMTP(d.host, d.port, timeout=10) as s:
            for i in range(2):
                s.sendmail("news@example.com", [f"u{i}@gmail.com", f"v{i}@yahoo.com"],
                           f"Subject: t{i}\r\n\r\nhi\r\n")
        c = MgmtClient(d)
        wait_for(lambda: c.get("/queues.json")[1]["matched"] == 2, 15, "queues")
        yield d, c
    finally:
        d.close()


def test_show_commands(daemon):
    d, c = daemon
    rc, out, err = ctl(c.url, "show", "status")
    assert rc == 0, err
    assert "traffic" in out and "last_minute" in out and "spool: healthy" in out
    traffic_total = [l for l in out.splitlines() if l.startswith("total ")][0].split()
    assert traffic_total[1:3] == ["2", "4"], out  # in msgs, in rcpts

    rc, out, err = ctl(c.url, "show", "queues")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["queue", "mode", "paused"]
    # Aligned: every row's "mode" column starts where the header's does.
    col = lines[0].index("mode")
    for row in lines[1:3]:
        assert row[col:col + 6] == "normal", out
    assert "2 of 2 matching queues" in out

    rc, out, _ = ctl(c.url, "show", "queues", "gmail.com")
    assert "gmail.com/{default}" in out and "yahoo.com" not in out
    rc, out, _ = ctl(c.url, "show", "queues", "--mode=backoff")
    assert rc == 0 and "0 of 0 matching queues" in out
    for what in ("topqueues", "domains", "vmtas", "counters"):
        rc, out, err = ctl(c.url, "show", what)
        assert rc == 0 and out.strip(), (what, err)
    rc, out, _ = ctl(c.url, "--json", "show", "status")
    assert rc == 0 and json.loads(out)["schema"] == "outpost.status/v1"


def test_control_commands(daemon):
    d, c = daemon
    assert ctl(c.url, "pause", "queue", "gmail.com")[0] == 0
    rc, out, _ = ctl(c.url, "--json", "show", "queues", "gmail.com")
    assert json.loads(out)["queues"][0]["paused"] is True
    assert ctl(c.url, "resume", "queue", "gmail.com/{default}")[0] == 0
    rc, out, err = ctl(c.url, "set", "queue", "--mode=backoff", "yahoo.com")
    assert rc == 0, err
    rc, out, _ = ctl(c.url, "show", "queues", "--mode=backoff")
    assert "yahoo.com/{default}" in out and "backoff" in out
    assert ctl(c.url, "reload") == (0, "configuration reloaded\n", "")


def test_exit_codes(daemon):
    d, c = daemon
    rc, _, err = ctl(c.url, "pause", "queue", "nowhere.example")
    assert rc == 1 and "no queue matches" in err
    assert ctl(c.url, "frobnicate")[0] == 2
    assert ctl(c.url, "set", "queue", "gmail.com")[0] == 2  # --mode missing
    assert ctl(c.url, "show", "queues", "--mode=sideways")[0] == 2
    rc, _, err = ctl("http://127.0.0.1:1", "show", "status")
    assert rc == 3 and "cannot reach outpostd" in err
    # A bad config: reload fails with the errors listed, exit 1.
    with open(d.config_path, "a") as f:
        f.write("no-such-directive 1\n")
    rc, _, err = ctl(c.url, "reload")
    assert rc == 1 and "no-such-directive" in err
    # Access denied: make 127.0.0.1 monitor only, then try to control.
    with open(d.config_path, "w") as f:
        f.write(d.config_text.replace("http-access 127.0.0.1 admin",
                                      "http-access 127.0.0.1 monitor"))
    assert ctl(c.url, "reload")[0] == 0
    rc, _, err = ctl(c.url, "pause", "queue", "gmail.com")
    assert rc == 4 and "access denied" in err
    assert ctl(c.url, "show", "status")[0] == 0
