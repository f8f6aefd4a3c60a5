"""The accounting webhook and the accounting pipe (docs/config.md, "Accounting feeds").

Webhook: a real outpostd POSTs its accounting records to a small HTTP receiver that fails on
purpose (500s, then requests it never answers so they time out, then 2xx): every record arrives,
in order, with bounded duplicates; also across a graceful restart and a kill -9 of outpostd in
the middle. Pipe: `<acct-file |PROGRAM>` feeds a child program that writes what it reads to a
file: it gets every record, is restarted by outpostd after it is killed, and a child that stops
reading does not stop deliveries.
"""
import csv
import io
import json
import os
import signal
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.delivery import inject, wait_records
from harness.isp_sim import IspSim
from harness.mgmt import MGMT_CONFIG, MgmtClient
from harness.outpostd import OutpostD, wait_for


class Receiver:
    """An HTTP endpoint answering from a script: 'fail' (500), 'hang' (no answer until the test
    ends, so the client times out), then 'ok' (204) for every request after the script."""

    def __init__(self, script=(), tls=None):
        self.script = list(script)
        self.posts = []  # each accepted POST's records (lists of dicts), in arrival order
        self.attempts = 0
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.attempts += 1
                    step = receiver.script.pop(0) if receiver.script else "ok"
                    if step == "ok":
                        assert self.headers["Content-Type"] == "application/json"
                        receiver.posts.append(json.loads(body))
                if step == "hang":
                    receiver.release.wait()
                    return
                self.send_response(500 if step == "fail" else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:  # (cert, key): HTTPS
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def rcpts(self, kind="r"):
        with self.lock:
            return [r["rcpt"] for post in self.posts for r in post if r["type"] == kind]

    def largest_post(self):
        with self.lock:
            return max((len(p) for p in self.posts), default=0)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def webhook_daemon(receiver, scheme="http"):
    mta = OutpostD(extra_config=MGMT_CONFIG)
    old = "  records d,b,t,tq,r\n"
    mta.config_text = mta.config_text.replace(
        old, old + f"  webhook-url {scheme}://127.0.0.1:{receiver.port}/acct\n"
             "  webhook-timeout 1s\n  webhook-max-backoff 1s\n")
    with open(mta.config_path, "w") as f:
        f.write(mta.config_text)
    return mta


def file_rcpts(mta, kind="r"):
    return [r["rcpt"] for r in mta.acct_records() if r["type"] == kind]


def wait_all_arrived(receiver, expected, timeout=60):
    wait_for(lambda: set(expected) <= set(receiver.rcpts()), timeout,
             f"{len(expected)} records at the webhook")


def first_seen_order(rcpts):
    seen, order = set(), []
    for r in rcpts:
        if r not in seen:
            seen.add(r)
            order.append(r)
    return order


def rcpts_for(prefix, n):
    return [[f"{prefix}{i}@example.test"] for i in range(n)]


def test_webhook_survives_errors_and_timeouts_in_order(tmp_path):
    receiver = Receiver(["fail", "fail", "fail", "hang", "hang"])
    mta = webhook_daemon(receiver)
    try:
        mta.start()
        inject(mta, "", rcpts_for("a", 30))
        wait_records(mta, "r", 30)
        expected = file_rcpts(mta)
        wait_all_arrived(receiver, expected)
        got = receiver.rcpts()
        assert first_seen_order(got) == expected, "records arrive in the file's order"
        assert len(got) == len(expected), "a batch is accepted once: no duplicates"
        assert receiver.attempts >= 6
        status = MgmtClient(mta).get("/status.json")[1]["accounting"]["webhook"]
        assert status["failures"] >= 5
        wait_for(lambda: MgmtClient(mta).get("/status.json")[1]["accounting"]["webhook"]
                 ["records_sent"] >= 30, 10, "records_sent in /status.json")
        feeds = MgmtClient(mta).get("/status.json")[1]["accounting"]["feeds"]
        assert [(f["feed"], f["kind"]) for f in feeds] == [(mta.acct, "webhook")]
        assert feeds[0]["records_sent"] >= 30 and feeds[0]["failures"] >= 5
    finally:
        mta.close()
        receiver.close()


def self_signed_for_loopback(directory):
    """A self-signed certificate (its own CA) for IP 127.0.0.1; returns (cert, key) paths."""
    cert, key = str(directory / "hook-cert.pem"), str(directory / "hook-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=receiver.test",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def test_https_webhook_verifies_the_certificate_against_the_ca_file(tmp_path):
    cert, key = self_signed_for_loopback(tmp_path)
    receiver = Receiver(tls=(cert, key))
    mta = webhook_daemon(receiver, scheme="https")
    try:
        # Not trusted (the system's CAs do not know it): nothing is sent, the failure is said.
        mta.start()
        inject(mta, "", rcpts_for("s", 5))
        wait_for(lambda: MgmtClient(mta).get("/status.json")[1]["accounting"]["webhook"]
                 ["failures"] >= 2, 30, "failed POSTs")
        assert receiver.posts == []
        assert "the server's certificate is not trusted" in mta.log_text()
        assert mta.stop() == 0
        # Trusted through webhook-ca-file: every record arrives, the earlier ones included.
        ca = os.path.join(mta.dir, "hook-ca.pem")
        with open(cert) as src, open(ca, "w") as dst:
            dst.write(src.read())
        mta.config_text = mta.config_text.replace(
            "  webhook-timeout 1s\n", f"  webhook-timeout 1s\n  webhook-ca-file {ca}\n")
        with open(mta.config_path, "w") as f:
            f.write(mta.config_text)
        mta.start()
        inject(mta, "", rcpts_for("t", 5), mid_prefix="two")
        wait_records(mta, "r", 10)
        expected = file_rcpts(mta)
        wait_all_arrived(receiver, expected)
        assert first_seen_order(receiver.rcpts()) == expected
    finally:
        mta.close()
        receiver.close()


def test_webhook_restart_and_kill9_lose_nothing_and_resend_little(tmp_path):
    receiver = Receiver()
    mta = webhook_daemon(receiver)
    try:
        mta.start()
        inject(mta, "", rcpts_for("b", 20), mid_prefix="one")
        wait_all_arrived(receiver, [f"b{i}@example.test" for i in range(20)])
        assert mta.stop() == 0
        mta.start()  # graceful restart: resumes at its saved position
        inject(mta, "", rcpts_for("c", 20), mid_prefix="two")
        wait_for(lambda: any(r.startswith("c") for r in receiver.rcpts()), 30, "first c record")
        mta.kill9()  # possibly in the middle of a batch
        inject_after = rcpts_for("d", 20)
        mta.start()
        inject(mta, "", inject_after, mid_prefix="three")
        wait_records(mta, "r", 60)
        expected = file_rcpts(mta)
        wait_all_arrived(receiver, expected)
        got = receiver.rcpts()
        assert first_seen_order(got) == expected
        duplicates = len(got) - len(set(got))
        # At least once; at most the batch in flight at the kill -9 is sent again.
        assert duplicates <= receiver.largest_post(), (duplicates, receiver.largest_post())
        assert duplicates <= 20
    finally:
        mta.close()
        receiver.close()


CHILD = r"""#!/usr/bin/env python3
import os, sys, time
out, block = sys.argv[0] + ".out", sys.argv[0] + ".block"
with open(sys.argv[0] + ".pids", "a") as f:
    f.write(f"{os.getpid()}\n")
with open(out, "ab", buffering=0) as f:
    while True:
        while os.path.exists(block):
            time.sleep(0.05)  # the program under test stops reading while the file exists
        line = sys.stdin.buffer.readline()
        if not line:
            break
        f.write(line)
"""


def pipe_daemon(sim_port):
    """outpostd with <acct-file |child.py>; the program lives in the daemon's own directory (which
    the harness gives to the daemon user), and writes its files beside itself."""
    route = (f"<domain ok.test>\n  route [127.0.0.1]:{sim_port}\n</domain>\n"
             "<acct-file |CHILD>\n  records d,r\n</acct-file>\n")
    mta = OutpostD(extra_config=MGMT_CONFIG + route)
    child = os.path.join(mta.dir, "child.py")
    with open(child, "w") as f:
        f.write(CHILD)
    os.chmod(child, 0o755)
    mta.config_text = mta.config_text.replace("|CHILD>", f"|{child}>")
    with open(mta.config_path, "w") as f:
        f.write(mta.config_text)
    return mta, child


def child_rows(child):
    try:
        with open(str(child) + ".out", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        return [], []
    rows = list(csv.reader(io.StringIO(text)))
    headers = [r for r in rows if r and r[0] == "type"]
    return headers, [r for r in rows if r and r[0] != "type"]


def child_rcpts(child, kind):
    headers, rows = child_rows(child)
    if not headers:
        return []
    col = headers[0].index("rcpt")
    return [r[col] for r in rows if r[0] == kind]


def child_pids(child):
    try:
        with open(str(child) + ".pids") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def test_pipe_gets_every_record_and_is_restarted(tmp_path):
    with IspSim(tmp_path / "sim", "<domain ok.test>\n  accept\n</domain>\n") as sim:
        mta, child = pipe_daemon(sim.port)
        try:
            mta.start()
            inject(mta, "", [[f"p{i}@ok.test"] for i in range(10)], mid_prefix="one")
            wait_for(lambda: len(set(child_rcpts(child, "d"))) == 10, 30, "10 d records piped")
            headers, _ = child_rows(child)
            assert headers[0][:2] == ["type", "timeLogged"], "the header line comes first"
            pids = child_pids(child)
            assert len(pids) == 1
            os.kill(pids[0], signal.SIGKILL)
            inject(mta, "", [[f"q{i}@ok.test"] for i in range(10)], mid_prefix="two")
            wait_for(lambda: len(child_pids(child)) == 2, 30, "the program restarted")
            want = {f"p{i}@ok.test" for i in range(10)} | {f"q{i}@ok.test" for i in range(10)}
            wait_for(lambda: set(child_rcpts(child, "d")) == want, 30, "every d record piped")
            assert set(child_rcpts(child, "r")) == want
            got = child_rcpts(child, "r") + child_rcpts(child, "d")
            assert len(got) - len(set(got) ) <= 40
            assert "accounting pipe" in mta.log_text() and "killed by signal 9" in mta.log_text()
            wait_for(lambda: MgmtClient(mta).get("/status.json")[1]["accounting"]["pipe"]
                     ["restarts"] == 1, 10, "restarts in /status.json")
            feeds = MgmtClient(mta).get("/status.json")[1]["accounting"]["feeds"]
            assert [(f["feed"], f["kind"], f["restarts"]) for f in feeds] == [
                (f"|{child}", "pipe", 1)]
        finally:
            mta.close()


def test_a_program_that_stops_reading_does_not_stop_deliveries(tmp_path):
    with IspSim(tmp_path / "sim", "<domain ok.test>\n  accept\n</domain>\n") as sim:
        mta, child = pipe_daemon(sim.port)
        block = str(child) + ".block"
        try:
            mta.start()
            inject(mta, "", [["first@ok.test"]], mid_prefix="first")
            wait_for(lambda: "first@ok.test" in child_rcpts(child, "d"), 30, "first piped")
            open(block, "w").close()
            # ~260 KB of records: far more than a pipe holds (64 KB), so the feed is stuck.
            rcpts = [[f"slow{i}-{j}@ok.test" for j in range(10)] for i in range(40)]
            inject(mta, "", rcpts, mid_prefix="slow")
            wait_records(mta, "d", 401, timeout=120)  # deliveries went on
            behind = MgmtClient(mta).get("/status.json")[1]["accounting"]["pipe"]
            wait_for(lambda: MgmtClient(mta).get("/status.json")[1]["accounting"]["pipe"]
                     ["bytes_behind"] > 64 * 1024, 10, "pipe lag in /status.json")
            os.unlink(block)
            want = {r for batch in rcpts for r in batch} | {"first@ok.test"}
            wait_for(lambda: set(child_rcpts(child, "d")) == want, 60, "every d record piped")
            assert behind is not None
        finally:
            if os.path.exists(block):
                os.unlink(block)
            mta.close()
