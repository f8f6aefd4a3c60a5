"""Integration tests for the test peers: outpost-isp-sim driven by smtplib, outpost-load and
Postfix's smtp-source; outpost-load's summary must equal what the simulator counted."""
import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness.isp_sim import IspSim, wait_for, _bin  # noqa: E402


def message(msg_id, body="hello\r\n"):
    return f"From: a@sender.test\r\nTo: b@x.test\r\nMessage-ID: {msg_id}\r\nSubject: t\r\n\r\n{body}"


def run_load(sim, *args, ids_file=None):
    cmd = [_bin("outpost-load"), "--json", *args, sim.smtp_address]
    if ids_file:
        cmd += ["--ids-file", str(ids_file)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_exact_defer_and_bounce_counts(tmp_path):
    config = """
<domain gmail.com>
  defer-ratio 0.3 "421-4.7.28 Our system has detected an unusual rate\\n421 4.7.28 of mail."
  bounce-ratio 0.1 "550 5.1.1 The email account that you tried to reach does not exist."
</domain>
<domain *> accept </domain>
"""
    with IspSim(tmp_path, config) as sim:
        codes = []
        with smtplib.SMTP(sim.host, sim.port) as s:
            code, ehlo = s.ehlo("client.test")
            for ext in (b"PIPELINING", b"SIZE", b"8BITMIME", b"ENHANCEDSTATUSCODES"):
                assert ext in ehlo
            s.mail("a@sender.test")
            for i in range(100):
                code, text = s.rcpt(f"user{i}@gmail.com")
                codes.append(code)
                if code == 421:
                    assert text == b"4.7.28 Our system has detected an unusual rate\n4.7.28 of mail."
            for i in range(10):
                assert s.rcpt(f"user{i}@example.org")[0] == 250
            assert s.data(message("<m1@test>").encode())[0] == 250
        # defer: floor(100 * 0.3) = 30 (recipients 4, 7, 10, 14, ...); bounce: floor(70 * 0.1) = 7.
        assert codes.count(421) == 30
        assert codes.count(550) == 7
        assert codes.count(250) == 63
        assert [i + 1 for i, c in enumerate(codes) if c == 421][:4] == [4, 7, 10, 14]
        stats = sim.stats()
        gmail = stats["domains"]["gmail.com"]
        assert (gmail["recipients_deferred"], gmail["recipients_bounced"],
                gmail["recipients_accepted"], gmail["messages"]) == (30, 7, 63, 1)
        assert stats["domains"]["example.org"]["recipients_accepted"] == 10
        client = stats["clients"]["127.0.0.1"]
        assert client["messages"] == 1
        assert client["recipients_accepted"] == 73
        assert client["connections_total"] == 1
        assert client["connections_current"] == 0 or client["connections_current"] == 1
        assert stats["message_ids"] == ["<m1@test>"]
        assert client["bytes"] == len(message("<m1@test>"))


def test_per_ip_cap_answers_421_and_records_peak(tmp_path):
    config = 'max-conn-per-ip 2 "421 4.7.0 Too many concurrent connections"\n'
    with IspSim(tmp_path, config) as sim:
        first = smtplib.SMTP(sim.host, sim.port)
        second = smtplib.SMTP(sim.host, sim.port)
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP(sim.host, sim.port)
        assert refused.value.smtp_code == 421
        assert b"Too many concurrent connections" in refused.value.smtp_error
        first.quit()
        # Once one closes, a new connection is served again.
        wait_for(lambda: sim.stats()["clients"]["127.0.0.1"]["connections_current"] == 1,
                 what="first connection closed")
        third = smtplib.SMTP(sim.host, sim.port)
        assert third.noop()[0] == 250
        third.quit()
        second.quit()
        client = sim.stats()["clients"]["127.0.0.1"]
        assert client["connections_peak"] == 3
        assert client["connections_refused"] == 1
        assert client["connections_total"] == 4
        assert client["connection_rate_peak"] >= 1


def test_domain_cap_applies_to_sessions_bound_to_the_domain(tmp_path):
    config = '<domain gmail.com>\n max-conn-per-ip 1 "421 4.7.0 Gmail says slow down"\n</domain>\n'
    with IspSim(tmp_path, config) as sim:
        a = smtplib.SMTP(sim.host, sim.port)
        a.mail("x@sender.test")
        assert a.rcpt("u@gmail.com")[0] == 250
        b = smtplib.SMTP(sim.host, sim.port)
        b.mail("x@sender.test")
        assert b.rcpt("u@other.test")[0] == 250  # bound to another domain: not capped
        c = smtplib.SMTP(sim.host, sim.port)
        c.mail("x@sender.test")
        code, text = c.rcpt("v@gmail.com")
        assert (code, text) == (421, b"4.7.0 Gmail says slow down")
        a.quit()
        b.quit()


def test_greeting_override(tmp_path):
    with IspSim(tmp_path, 'greeting "421 4.3.2 Service not available"\n') as sim:
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP(sim.host, sim.port)
        assert refused.value.smtp_code == 421
        assert sim.stats()["totals"]["connections_refused"] == 1


def test_drop_mid_data_closes_connection(tmp_path):
    config = "<domain *>\n drop-mid-data-ratio 0.5\n</domain>\n"
    with IspSim(tmp_path, config) as sim:
        outcomes = []
        for i in range(4):
            s = smtplib.SMTP(sim.host, sim.port)
            try:
                s.sendmail("a@sender.test", ["b@x.test"], message(f"<d{i}@test>"))
                outcomes.append("ok")
                s.quit()
            except smtplib.SMTPServerDisconnected:
                outcomes.append("dropped")
            s.close()
        # Ratio 0.5: the 2nd and 4th DATA transactions are dropped.
        assert outcomes == ["ok", "dropped", "ok", "dropped"]
        stats = sim.stats()
        assert stats["totals"]["dropped_mid_data"] == 2
        assert stats["totals"]["messages"] == 2
        assert stats["message_ids"] == ["<d0@test>", "<d2@test>"]


def test_raw_drop_closes_socket_without_reply(tmp_path):
    with IspSim(tmp_path, "<domain *>\n drop-mid-data-ratio 1\n</domain>\n") as sim:
        sock = socket.create_connection((sim.host, sim.port), timeout=10)
        f = sock.makefile("rwb")
        f.readline()
        f.write(b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        f.flush()
        replies = [f.readline() for _ in range(8)]  # 5 EHLO lines, MAIL, RCPT, DATA
        assert replies[-1].startswith(b"354")
        f.write(b"Subject: x\r\n\r\nbody\r\n")
        f.flush()
        assert f.readline() == b""  # EOF: closed without a reply
        sock.close()


def test_stats_file_on_sigusr1_and_exit_and_maildir(tmp_path):
    maildir = tmp_path / "maildir"
    sim = IspSim(tmp_path, "record-message-ids 2\n", maildir=maildir).start()
    try:
        with smtplib.SMTP(sim.host, sim.port) as s:
            for i in range(3):
                s.sendmail("a@sender.test", ["b@x.test"], message(f"<k{i}@test>", ".dot\r\n"))
        dumped = sim.dump_stats()
        assert dumped["message_ids"] == ["<k0@test>", "<k1@test>"]
        assert dumped["message_ids_not_recorded"] == 1
        files = sorted((maildir / "new").iterdir())
        assert len(files) == 3
        # Stored as received after dot-unstuffing.
        assert all(f.read_bytes().endswith(b"\r\n\r\n.dot\r\n") for f in files)
    finally:
        final = sim.stop()
    assert final["totals"]["messages"] == 3


def test_load_summary_equals_sim_counts(tmp_path):
    config = """
<domain gmail.com>
  defer-ratio 0.25 "421 4.7.28 rate limited"
  bounce-ratio 0.1
</domain>
<domain *> accept </domain>
"""
    ids_file = tmp_path / "ids.txt"
    with IspSim(tmp_path, config) as sim:
        summary = run_load(sim, "--sessions", "5", "--messages", "200", "--rcpts", "2",
                           "--size", "2k", "--domains", "gmail.com:1,example.org:1",
                           ids_file=ids_file)
        stats = sim.stats()
    totals = stats["totals"]
    assert summary["messages_attempted"] == 200
    assert summary["messages_accepted"] == totals["messages"] == 200
    # 200 gmail recipients: floor(200 * .25) = 50 deferred, floor(150 * .1) = 15 bounced.
    assert summary["rcpt_replies"].get("421") == totals["recipients_deferred"] == 50
    assert summary["rcpt_replies"].get("550") == totals["recipients_bounced"] == 15
    assert summary["recipients_accepted"] == totals["recipients_accepted"] == 335
    assert summary["connections"] == totals["connections_total"]
    assert summary["bytes_accepted"] == totals["bytes"]
    assert summary["errors"] == {}
    for p in ("p50", "p90", "p99"):
        assert summary["latency_ms"][p] > 0
    ids = ids_file.read_text().split()
    assert len(ids) == 200 and len(set(ids)) == 200
    assert sorted(ids) == sorted(stats["message_ids"])
    # Each 421 makes the client drop the connection and reconnect.
    assert summary["connections"] > 5


def test_load_without_pipelining_and_human_summary(tmp_path):
    with IspSim(tmp_path, "") as sim:
        r = subprocess.run([_bin("outpost-load"), "--no-pipelining", "--sessions", "2",
                            "--messages", "10", sim.smtp_address],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "10 accepted" in r.stdout
        stats = sim.stats()
        assert stats["totals"]["messages"] == 10
        # No 421 and no drop: each session keeps its one connection for all its messages.
        assert stats["totals"]["connections_total"] == 2


def test_load_exits_nonzero_when_nothing_connects(tmp_path):
    with IspSim(tmp_path, 'greeting "421 4.3.2 go away"\n') as sim:
        r = subprocess.run([_bin("outpost-load"), "--json", "--sessions", "1", "--messages", "5",
                            sim.smtp_address], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1
        assert json.loads(r.stdout)["errors"]["greeting"] == 5


@pytest.mark.skipif(not os.path.exists("/usr/sbin/smtp-source"), reason="no smtp-source")
def test_postfix_smtp_source_against_sim(tmp_path):
    with IspSim(tmp_path, "") as sim:
        r = subprocess.run(["/usr/sbin/smtp-source", "-s", "4", "-m", "40", "-l", "1024",
                            "-f", "a@sender.test", "-t", "b@x.test", sim.smtp_address],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        stats = sim.stats()
        assert stats["totals"]["messages"] == 40
        assert stats["domains"]["x.test"]["recipients_accepted"] == 40
