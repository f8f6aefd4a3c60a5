"""outpostctl against a live outpostd: PowerMTA-style verbs, aligned tables, --json, and the exit
codes (0 ok, 1 error reply, 2 usage, 3 unreachable, 4 access denied)."""
import http.server
import json
import smtplib
import subprocess
import threading

import pytest

from harness.mgmt import MgmtClient, doc_examples, start_outpostd
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
    spool_line = [l for l in out.splitlines() if l.startswith("spool: ")][0]
    assert " live, " in spool_line and " on disk; " in spool_line, spool_line
    assert "; 0 compactions, 0 B reclaimed; " in spool_line, spool_line
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


class _StatusServer:
    """Answers every GET with one fixed JSON document, on a loopback port chosen by the kernel."""

    def __init__(self, doc):
        body = json.dumps(doc).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def status_server():
    servers = []

    def start(doc):
        servers.append(_StatusServer(doc))
        return servers[-1]

    yield start
    for srv in servers:
        srv.close()


def spool_line(url):
    rc, out, err = ctl(url, "show", "status")
    assert rc == 0, err
    lines = [l for l in out.splitlines() if l.startswith("spool: ")]
    assert len(lines) == 1, out
    return lines[0]


@pytest.mark.parametrize("label,spool,want", [
    ("compacted", {"healthy": True, "entries": 20, "live_bytes": 3865, "bytes": 7730,
                   "compactions": 2, "compaction_bytes_copied": 1 << 20,
                   "bytes_reclaimed": 128 << 20, "compaction_errors": 0,
                   "disk_used_bytes": 22918168576, "disk_free_bytes": 79827111936},
     "spool: healthy, 20 messages; 3.8 KB live, 7.5 KB on disk; 2 compactions, 128 MB reclaimed; "
     "disk 21 GB used, 74 GB free"),
    ("amplified_with_errors", {"healthy": False, "entries": 3, "live_bytes": 512,
                               "bytes": 5 << 30, "compactions": 0, "compaction_bytes_copied": 0,
                               "bytes_reclaimed": 0, "compaction_errors": 4,
                               "disk_used_bytes": 1536 << 30, "disk_free_bytes": 0},
     "spool: UNHEALTHY, 3 messages; 512 B live, 5.0 GB on disk; 0 compactions, 0 B reclaimed, "
     "compaction errors: 4; disk 1.5 TB used, 0 B free"),
    # An outpostd from before compaction: no live bytes or compaction figures, nothing invented.
    ("older_daemon", {"healthy": True, "entries": 1, "bytes": 1024, "damaged": 0,
                      "disk_used_bytes": 10 << 20, "disk_free_bytes": 1 << 30},
     "spool: healthy, 1 messages; 1.0 KB on disk; disk 10 MB used, 1.0 GB free"),
])
def test_show_status_spool_line(status_server, label, spool, want):
    doc = doc_examples()["status"]
    doc["spool"] = spool
    assert spool_line(status_server(doc).url) == want, label
