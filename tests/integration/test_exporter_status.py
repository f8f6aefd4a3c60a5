"""outpost_exporter's status half, end to end: a real outpostd with queued mail, live scrapes,
promtool; and the status API down, slow (silent, or dripping its headers) and answering garbage.

The outpostd harness routes every domain to a loopback port that refuses connections, so injected
mail stays queued (deferred); one queue is put in backoff through the API.
"""
import http.server
import json
import os
import re
import shutil
import smtplib
import socket
import subprocess
import threading
import time

import pytest

from harness.exporter import Exporter, total
from harness.mgmt import MgmtClient, doc_examples, start_outpostd
from harness.outpostd import SOURCE, wait_for

FAST = ["--poll-interval", "0.05", "--state-interval", "0.1", "--close-grace", "0.5"]

# The contract (docs/metrics.md, "Status metrics"): name -> label name (None: no label).
CONTRACT = {
    "outpost_up": None,
    "outpost_status_scrape_duration_seconds": None,
    "outpost_uptime_seconds": None,
    "outpost_queue_recipients": None,
    "outpost_queue_messages": None,
    "outpost_queue_recipients_by_vmta": "vmta",
    "outpost_queue_recipients_by_mode": "mode",
    "outpost_top_queue_recipients": "queue",
    "outpost_backoff_recipients": None,
    "outpost_backoff_queues": None,
    "outpost_queue_oldest_message_age_seconds": None,
    "outpost_queue_oldest_message_age_seconds_by_vmta": "vmta",
    "outpost_queue_stalls_total": None,
    "outpost_queues_stalled": None,
    "outpost_queue_backoff_seconds": "queue",
    "outpost_connections": "direction",
    "outpost_traffic_messages_total": "direction",
    "outpost_traffic_recipients_total": "direction",
    "outpost_traffic_bytes_total": "direction",
    "outpost_process_resident_memory_bytes": None,
    "outpost_process_swap_bytes": None,
    "outpost_process_open_fds": None,
    "outpost_process_max_fds": None,
    "outpost_process_cpu_seconds_total": None,
    "outpost_invariant_violations_total": None,
    "outpost_spool_entries": None,
    "outpost_spool_bytes": None,
    "outpost_spool_live_bytes": None,
    "outpost_spool_compactions_total": None,
    "outpost_spool_compaction_copied_bytes_total": None,
    "outpost_spool_compaction_reclaimed_bytes_total": None,
    "outpost_spool_compaction_errors_total": None,
    "outpost_spool_disk_used_bytes": None,
    "outpost_spool_disk_free_bytes": None,
    "outpost_dns_cache_entries": None,
    "outpost_dns_cache_hit_ratio": None,
    "outpost_config_reload_failures_total": None,
    "outpost_accounting_writable": None,
    "outpost_accounting_buffered_bytes": None,
    "outpost_accounting_write_errors_total": None,
    "outpost_accounting_held_recipients": None,
    "outpost_acct_webhook_records_behind": "feed",
    "outpost_acct_webhook_bytes_behind": "feed",
    "outpost_acct_webhook_oldest_unsent_seconds": "feed",
    "outpost_acct_webhook_records_sent_total": "feed",
    "outpost_acct_webhook_failures_total": "feed",
    "outpost_acct_pipe_records_behind": "feed",
    "outpost_acct_pipe_bytes_behind": "feed",
    "outpost_acct_pipe_records_sent_total": "feed",
    "outpost_acct_pipe_failures_total": "feed",
    "outpost_acct_pipe_restarts_total": "feed",
    "outpost_dkim_signed_total": None,
    "outpost_dkim_unsigned_no_key_total": None,
    "outpost_dkim_sign_failures_total": None,
    "outpost_domainkeys_signed_total": None,
    "outpost_domainkeys_sign_failures_total": None,
    "outpost_signing_pool_threads": None,
    "outpost_signing_pool_queued": None,
    "outpost_signing_pool_waiting": None,
    "outpost_signing_pool_busy_ratio": None,
    "outpost_signing_pool_busy_seconds_total": None,
    "outpost_signing_pool_jobs_total": None,
    "outpost_tls_fallbacks_total": None,
    "outpost_tls_failures_remembered": None,
    "outpost_8bit_converted_total": None,
    "outpost_8bit_refused_total": None,
    "outpost_alert_actions_active": None,
    "outpost_alert_actions_total": None,
    "outpost_alert_action_undos_total": None,
    "outpost_alert_action_failures_total": None,
    "outpost_ready": None,
}
REASONS = ["connect", "timeout", "http_status", "bad_json", "schema"]
ACCT_HEADER = "type,timeLogged,timeQueued,orig,rcpt,dsnStatus,bounceCat,dlvSourceIp,dlvSize,vmta\n"
ACCT_LINE = ("d,2025-11-22 10:00:02+0000,2025-11-22 10:00:00+0000,a@example.com,b@gmail.com,"
             "2.0.0 (success),success,203.0.113.10,4211,vmta1\n")


def series(samples, name):
    """{labels-dict-as-tuple: value} of one metric."""
    return {labels: v for (n, labels), v in samples.items() if n == name}


def value(samples, name, **labels):
    want = frozenset(labels.items())
    for (n, ls), v in samples.items():
        if n == name and ls == want:
            return v
    raise AssertionError(f"{name}{labels} not in the scrape")


def inject(daemon, per_domain):
    """One message per recipient; returns (messages, recipients)."""
    n = 0
    with smtplib.SMTP(daemon.host, daemon.port, timeout=10) as s:
        for domain, count in per_domain.items():
            for i in range(count):
                assert s.sendmail("news@example.com", [f"u{i}@{domain}"],
                                  f"Subject: t{n}\r\nMessage-ID: <m{n}@example.com>\r\n\r\nhi\r\n"
                                  ) == {}
                n += 1
    return n, n


@pytest.fixture
def started():
    things = []

    def track(x):
        things.append(x)
        return x

    yield track
    for x in reversed(things):
        if isinstance(x, Exporter):
            x.stop()
        else:
            x.close()


def exporter_for(tmp_path, status_url, *extra):
    acct = tmp_path / "acct.csv"
    if not acct.exists():
        acct.write_text(ACCT_HEADER + ACCT_LINE * 3)
    return Exporter(["--acct-path", str(acct), "--state-file", str(tmp_path / "state.json"),
                     "--from-start", "--status-url", status_url] + list(extra) + FAST).start()


def test_contract_table_is_documented():
    """docs/metrics.md lists exactly the contract's status metrics."""
    with open(os.path.join(SOURCE, "docs", "metrics.md")) as f:
        text = f.read()
    section = text.split("## Status metrics", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| (outpost_\w+) \|", section, re.M))
    assert documented == set(CONTRACT)


def test_live_status_metrics_match_the_api(tmp_path, started):
    work = tmp_path / "mta"
    work.mkdir()
    hook_file = work / "hook.csv"
    # Two accounting feeds: a webhook whose endpoint refuses, and a pipe to cat.
    feeds = (f"<acct-file {hook_file}>\n  records d\n  webhook-url http://127.0.0.1:1/acct\n"
             "</acct-file>\n<acct-file |/bin/cat>\n  records d\n</acct-file>\n")
    d = started(start_outpostd(feeds, workdir=str(work)))
    c = MgmtClient(d)
    messages, recipients = inject(d, {"gmail.com": 3, "yahoo.com": 2, "hotmail.com": 1})
    wait_for(lambda: c.get("/status.json")[1]["queue"]["recipients"] == recipients, 15,
             "all recipients queued")
    status, body = c.post("/api/queue/mode", {"queue": "yahoo.com", "mode": "backoff"})
    assert status == 200, body
    held = started(smtplib.SMTP(d.host, d.port, timeout=10))  # an inbound connection, open
    held.ehlo()
    e = started(exporter_for(tmp_path, c.url + "/status.json", "--top-queues", "2"))

    # outpostd samples its connection gauges about once a second: wait for the held one.
    s = e.wait_for(lambda s: total(s, "outpost_up") == 1 and
                   total(s, "outpost_acct_records_total") == 3 and
                   total(s, "outpost_connections", direction="in") >= 1, 30,
                   "up, accounting and the held connection")
    for name, label in CONTRACT.items():
        got = series(s, name)
        assert got, f"{name} missing from the live scrape"
        for labels in got:
            assert [k for k, _ in labels] == ([label] if label else []), (name, labels)

    # A series per accounting feed, labelled with its <acct-file>.
    assert {dict(k)["feed"] for k in series(s, "outpost_acct_webhook_records_behind")} == {
        str(hook_file)}
    assert {dict(k)["feed"] for k in series(s, "outpost_acct_pipe_restarts_total")} == {"|/bin/cat"}

    # Queue figures equal what the API says (the queues do not move: the route refuses).
    _, queues = c.get("/queues.json")
    by_name = {q["name"]: q["recipients"] for q in queues["queues"]}
    assert value(s, "outpost_queue_recipients") == sum(by_name.values()) == recipients
    assert value(s, "outpost_queue_messages") == messages
    top = series(s, "outpost_top_queue_recipients")
    assert {dict(k)["queue"]: v for k, v in top.items()} == {
        "gmail.com/{default}": 3, "yahoo.com/{default}": 2}
    assert value(s, "outpost_queue_recipients_by_vmta", vmta="{default}") == recipients
    assert value(s, "outpost_queue_recipients_by_mode", mode="backoff") == 2
    assert value(s, "outpost_queue_recipients_by_mode", mode="normal") == 4
    assert value(s, "outpost_backoff_queues") == 1
    # Refused connections hold the queues for their retry interval: a wait, not a stall.
    assert value(s, "outpost_queues_stalled") == 0 and value(s, "outpost_queue_stalls_total") == 0
    assert value(s, "outpost_backoff_recipients") == 2
    assert value(s, "outpost_queue_backoff_seconds", queue="yahoo.com/{default}") >= 0
    # Connections: the held session; traffic in as injected; nothing delivered.
    assert value(s, "outpost_connections", direction="in") >= 1
    assert value(s, "outpost_connections", direction="out") >= 0
    assert value(s, "outpost_traffic_messages_total", direction="in") == messages
    assert value(s, "outpost_traffic_recipients_total", direction="in") == recipients
    assert value(s, "outpost_traffic_bytes_total", direction="in") > 0
    assert value(s, "outpost_traffic_messages_total", direction="out") == 0
    # Process, spool, DNS, config, readiness.
    assert value(s, "outpost_process_resident_memory_bytes") > 1 << 20
    assert value(s, "outpost_process_swap_bytes") >= 0
    assert 0 < value(s, "outpost_process_open_fds") <= value(s, "outpost_process_max_fds")
    assert value(s, "outpost_process_cpu_seconds_total") > 0
    assert value(s, "outpost_uptime_seconds") >= 0
    assert value(s, "outpost_spool_entries") == messages
    assert value(s, "outpost_spool_bytes") > 0
    assert value(s, "outpost_spool_disk_free_bytes") > 0
    # Live bytes and compaction figures are what the API says (nothing moves: mail stays queued).
    spool = c.get("/status.json")[1]["spool"]
    assert 0 <= value(s, "outpost_spool_live_bytes") == spool["live_bytes"] <= spool["bytes"]
    for metric, field in [("outpost_spool_compactions_total", "compactions"),
                          ("outpost_spool_compaction_copied_bytes_total", "compaction_bytes_copied"),
                          ("outpost_spool_compaction_reclaimed_bytes_total", "bytes_reclaimed"),
                          ("outpost_spool_compaction_errors_total", "compaction_errors")]:
        assert value(s, metric) == spool[field], metric
    assert value(s, "outpost_spool_disk_used_bytes") > 0
    assert value(s, "outpost_dns_cache_entries") >= 0
    assert 0 <= value(s, "outpost_dns_cache_hit_ratio") <= 1
    assert value(s, "outpost_config_reload_failures_total") == 0
    # Accounting healthy; nothing signed (no dkim-sign in this config, nothing delivered).
    assert value(s, "outpost_accounting_writable") == 1
    assert value(s, "outpost_accounting_buffered_bytes") == 0
    assert value(s, "outpost_accounting_write_errors_total") == 0
    assert value(s, "outpost_accounting_held_recipients") == 0
    assert value(s, "outpost_dkim_signed_total") == 0
    assert value(s, "outpost_dkim_sign_failures_total") == 0
    assert value(s, "outpost_ready") == 1
    for reason in REASONS:
        assert value(s, "outpost_exporter_status_errors_total", reason=reason) == 0

    # A refused reload shows up at the next scrape (nothing is cached across scrapes).
    with open(d.config_path, "a") as f:
        f.write("this-is-not-a-directive 1\n")
    assert c.post("/api/reload")[0] == 422
    s = e.scrape()
    assert value(s, "outpost_config_reload_failures_total") == 1

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; scripts/install-deps.sh)")
    text = e.scrape_text()
    assert "outpost_queue_recipients " in text
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_status_down_gives_up_zero_and_accounting_still_served(tmp_path, started):
    d = started(start_outpostd())
    c = MgmtClient(d)
    e = started(exporter_for(tmp_path, c.url + "/status.json", "--status-timeout", "1"))
    e.wait_for(lambda s: total(s, "outpost_up") == 1 and
               total(s, "outpost_acct_records_total") == 3, 30, "up")
    assert d.stop() == 0
    t0 = time.monotonic()
    s = e.scrape()
    assert time.monotonic() - t0 < 1 + 1.5
    assert value(s, "outpost_up") == 0
    assert value(s, "outpost_exporter_status_errors_total", reason="connect") == 1
    assert total(s, "outpost_acct_records_total", type="delivered") == 3
    # No stale status figure survives: only up, the duration and the error counter remain.
    for name in CONTRACT:
        if name not in ("outpost_up", "outpost_status_scrape_duration_seconds"):
            assert not series(s, name), f"{name} served while outpostd is down"


class _Server:
    """A loopback HTTP server on port 0 in a thread, answering with `handler(sock)`."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.release = threading.Event()  # set at close: lets stalled handlers finish
        self.handler = handler
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        with conn:
            try:
                conn.recv(65536)  # the request (small; one recv is enough on loopback)
                self.handler(conn, self.release)
            except OSError:
                pass

    def url(self):
        return "http://127.0.0.1:%d/status.json" % self.port

    def close(self):
        self.release.set()
        self.sock.close()


def _answer(status, body, ctype="application/json"):
    def handler(conn, release):
        data = body.encode()
        conn.sendall(b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n%s" % (status, ctype.encode(), len(data), data))
    return handler


def _silent(conn, release):
    release.wait(30)  # never answers while the test runs


def _drip_headers(conn, release):
    # Headers one byte at a time, each well within a per-recv timeout: only a deadline stops it.
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not release.wait(0.05):
        conn.sendall(b"X")


@pytest.mark.parametrize("label,handler", [("silent", _silent), ("drip_headers", _drip_headers)])
def test_slow_status_api_is_cut_at_the_timeout(tmp_path, started, label, handler):
    srv = started(_Server(handler))
    e = started(exporter_for(tmp_path, srv.url(), "--status-timeout", "0.5"))
    e.wait_for(lambda s: total(s, "outpost_acct_records_total") == 3, 30, "accounting")
    t0 = time.monotonic()
    s = e.scrape()
    elapsed = time.monotonic() - t0
    assert elapsed < 0.5 + 1.0, f"{label}: scrape took {elapsed:.2f}s with --status-timeout 0.5"
    assert value(s, "outpost_up") == 0
    assert value(s, "outpost_exporter_status_errors_total", reason="timeout") >= 1
    assert value(s, "outpost_status_scrape_duration_seconds") < 0.5 + 0.5
    assert total(s, "outpost_acct_records_total") == 3


def test_spool_compaction_figures_are_served_as_typed(tmp_path, started):
    """The spool's live bytes (gauge) and compaction figures (counters) from a status answer with
    known values, through the exporter's /metrics and promtool."""
    doc = doc_examples()["status"]
    doc["spool"].update({"bytes": 5 << 30, "live_bytes": 1 << 30, "compactions": 12,
                         "compaction_bytes_copied": 3 << 20, "bytes_reclaimed": 768 << 20,
                         "compaction_errors": 2})
    srv = started(_Server(_answer(200, json.dumps(doc))))
    e = started(exporter_for(tmp_path, srv.url(), "--status-timeout", "2"))
    s = e.wait_for(lambda s: total(s, "outpost_up") == 1, 30, "up")
    assert value(s, "outpost_spool_bytes") == 5 << 30
    assert value(s, "outpost_spool_live_bytes") == 1 << 30
    assert value(s, "outpost_spool_compactions_total") == 12
    assert value(s, "outpost_spool_compaction_copied_bytes_total") == 3 << 20
    assert value(s, "outpost_spool_compaction_reclaimed_bytes_total") == 768 << 20
    assert value(s, "outpost_spool_compaction_errors_total") == 2
    text = e.scrape_text()
    assert "# TYPE outpost_spool_live_bytes gauge" in text
    for name in ("compactions", "compaction_copied_bytes", "compaction_reclaimed_bytes",
                 "compaction_errors"):
        assert f"# TYPE outpost_spool_{name}_total counter" in text, name
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; scripts/install-deps.sh)")
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


_V1 = {"schema": "outpost.status/v1", "queue": {"recipients": "26"}}


@pytest.mark.parametrize("label,status,body,reason", [
    ("html", 200, "<html>not json</html>", "bad_json"),
    ("truncated", 200, '{"schema": "outpost.status/v1", "queue": {', "bad_json"),
    ("other_schema", 200, json.dumps({"schema": "outpost.status/v2"}), "schema"),
    ("wrong_type", 200, json.dumps(_V1), "schema"),
    ("array", 200, "[]", "schema"),
    ("server_error", 500, '{"error": "boom", "status": 500}', "http_status"),
])
def test_garbage_from_the_status_api(tmp_path, started, label, status, body, reason):
    srv = started(_Server(_answer(status, body)))
    e = started(exporter_for(tmp_path, srv.url(), "--status-timeout", "2"))
    e.wait_for(lambda s: total(s, "outpost_acct_records_total") == 3, 30, "accounting")
    s = e.scrape()  # wait_for scraped before: count the difference over one scrape
    before = {r: value(s, "outpost_exporter_status_errors_total", reason=r) for r in REASONS}
    s = e.scrape()
    assert value(s, "outpost_up") == 0, label
    for r in REASONS:
        got = value(s, "outpost_exporter_status_errors_total", reason=r) - before[r]
        assert got == (1 if r == reason else 0), (label, r)
    assert total(s, "outpost_acct_records_total") == 3
    assert not series(s, "outpost_queue_recipients")
