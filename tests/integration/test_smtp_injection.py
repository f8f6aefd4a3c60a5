"""Injection through the real outpostd with real clients: smtplib, swaks (TLS, AUTH), smtp-source."""
import re
import smtplib
import ssl
import subprocess

import pytest

from harness.outpostd import OutpostD, SmtpWire

MESSAGE = ("From: news@example.com\r\nTo: ann@example.net\r\nSubject: hello\r\n"
           "Message-ID: <fixed-1@example.com>\r\n\r\nbody line\r\n")


@pytest.fixture
def mta():
    with OutpostD() as d:
        yield d


def test_smtplib_message_is_spooled_with_r_record(mta):
    with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
        code, ehlo = client.ehlo("client.example")
        assert code == 250
        for ext in (b"PIPELINING", b"SIZE", b"8BITMIME", b"ENHANCEDSTATUSCODES"):
            assert ext in ehlo
        refused = client.sendmail("news@example.com", ["ann@example.net", "bob@example.org"],
                                  MESSAGE)
        assert refused == {}
    assert mta.stop() == 0
    messages, summary = mta.list_spool()
    assert summary["messages"] == 1
    assert messages[0]["message_id"] == "<fixed-1@example.com>"
    assert messages[0]["recipients"] == ["ann@example.net", "bob@example.org"]
    records = [r for r in mta.acct_records() if r["type"] == "r"]
    assert len(records) == 2
    assert {r["rcpt"] for r in records} == {"ann@example.net", "bob@example.org"}
    assert records[0]["orig"] == "news@example.com"
    assert records[0]["srcType"] == "smtp"
    assert "127.0.0.1" in records[0]["srcMta"]
    assert int(records[0]["dlvSize"]) > len(MESSAGE)  # Received: was added


VMTA7 = """
<virtual-mta vmta7>
  smtp-source-host 127.0.0.1 mta7.outpost.test
</virtual-mta>
"""


def test_unknown_virtual_mta_is_refused(mta):
    body = "From: a@example.com\r\nX-Virtual-MTA: nosuch\r\nSubject: x\r\n\r\nhi\r\n"
    with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail("a@example.com", ["b@example.net"], body)
        assert info.value.smtp_code == 550
    mta.stop()
    assert mta.list_spool()[1]["messages"] == 0


def test_headers_added_and_control_headers_removed():
    with OutpostD(extra_config=VMTA7) as mta:
        check_headers_added_and_control_headers_removed(mta)


def check_headers_added_and_control_headers_removed(mta):
    body = ("From: a@example.com\r\nTo: b@example.net\r\nX-Virtual-MTA: vmta7\r\n"
            "X-Job: spring-sale\r\nSubject: no id\r\n\r\nhi\r\n")
    with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
        client.sendmail("a@example.com", ["b@example.net"], body)
    mta.stop()
    messages, _ = mta.list_spool()
    assert len(messages) == 1
    m = messages[0]
    assert re.fullmatch(r"<[0-9A-F]{16}@outpost\.test>", m["message_id"]), m
    assert m["vmta"] == "vmta7"
    assert m["job_id"] == "spring-sale"
    records = [r for r in mta.acct_records() if r["type"] == "r"]
    assert records[0]["vmta"] == "vmta7" and records[0]["jobId"] == "spring-sale"


def test_smtp_source_parallel_sessions(mta):
    run = subprocess.run(["smtp-source", "-s", "20", "-m", "400", "-l", "4096", "-f",
                          "load@example.com", "-t", "sink@example.net", "-c",
                          f"{mta.host}:{mta.port}"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    mta.stop()
    _, summary = mta.list_spool()
    assert summary["messages"] == 400
    assert summary["damaged"] == 0
    assert sum(1 for r in mta.acct_records() if r["type"] == "r") == 400


def test_pipelined_transaction_in_one_write(mta):
    wire = SmtpWire(mta.connect())
    assert wire.reply()[0] == 220
    wire.send("EHLO pipe.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\n"
              "RCPT TO:<c@example.net>\r\nDATA\r\n")
    assert wire.reply()[0] == 250  # EHLO
    assert wire.reply()[0] == 250  # MAIL
    assert wire.reply()[0] == 250
    assert wire.reply()[0] == 250
    assert wire.reply()[0] == 354
    wire.send("Subject: p\r\n\r\n..leading dot\r\n.\r\nNOOP\r\nQUIT\r\n")
    code, lines = wire.reply()
    assert code == 250 and "2.0.0" in lines[0]
    assert wire.reply()[0] == 250  # NOOP after the message: pipelined bytes kept in order
    assert wire.reply()[0] == 221


@pytest.mark.parametrize("line,code", [
    ("FOO bar", 500),
    ("MAIL FROM:<a@example.com>", 503),  # before EHLO
    ("RCPT TO:<b@example.net>", 503),
    ("DATA", 503),
    ("VRFY someone", 252),
    ("HELP", 214),
    ("NOOP", 250),
])
def test_bad_and_out_of_order_commands_keep_session(mta, line, code):
    wire = SmtpWire(mta.connect())
    assert wire.reply()[0] == 220
    assert wire.command(line)[0] == code
    # The session is still in sync: a normal transaction follows.
    assert wire.command("EHLO ok.example")[0] == 250
    assert wire.command("MAIL FROM:<a@example.com>")[0] == 250
    assert wire.command("RSET")[0] == 250
    assert wire.command("QUIT")[0] == 221


def test_too_many_errors_closes_with_421(mta):
    wire = SmtpWire(mta.connect())
    assert wire.reply()[0] == 220
    codes = []
    for _ in range(30):
        try:
            codes.append(wire.command("BOGUS")[0])
        except ConnectionError:
            break
        if codes[-1] == 421:
            break
    assert codes[-1] == 421
    assert codes.count(500) >= 1


def test_overlong_command_line_rejected(mta):
    wire = SmtpWire(mta.connect())
    assert wire.reply()[0] == 220
    assert wire.command("EHLO " + "a" * 2000)[0] == 500
    assert wire.command("EHLO ok.example")[0] == 250


def test_oversize_message_552_after_data():
    with OutpostD(extra_config="max-message-size 10K") as d:
        wire = SmtpWire(d.connect())
        assert wire.reply()[0] == 220
        assert wire.command("EHLO big.example")[0] == 250
        assert wire.command("MAIL FROM:<a@example.com> SIZE=999999")[0] == 552
        assert wire.command("MAIL FROM:<a@example.com>")[0] == 250
        assert wire.command("RCPT TO:<b@example.net>")[0] == 250
        assert wire.command("DATA")[0] == 354
        wire.send("Subject: big\r\n\r\n" + ("x" * 100 + "\r\n") * 200 + ".\r\n")
        code, lines = wire.reply()
        assert code == 552 and "5.3.4" in lines[0]
        assert wire.command("NOOP")[0] == 250
        d.stop()
        assert d.list_spool()[1]["messages"] == 0


def test_swaks_starttls_and_auth():
    users = """
<smtp-user alice>
  password s3cret
  source {auth}
</smtp-user>
<source {auth}>
  always-allow-relaying yes
</source>
"""
    sources = """
<source 0/0>
  always-allow-relaying no
  require-auth yes
</source>
"""
    with OutpostD(extra_config=users, sources=sources, tls=True) as d:
        base = ["swaks", "--server", f"{d.host}:{d.port}", "--from", "a@example.com", "--to",
                "b@example.net", "--helo", "swaks.example", "--timeout", "10"]
        # Without AUTH: relaying needs authentication.
        noauth = subprocess.run(base + ["--tls"], capture_output=True, text=True, timeout=60)
        assert noauth.returncode != 0
        assert "530" in noauth.stdout
        # AUTH before TLS is refused: the password never crosses in clear text.
        clear = subprocess.run(base + ["--auth", "PLAIN", "--auth-user", "alice",
                                       "--auth-password", "s3cret"],
                               capture_output=True, text=True, timeout=60)
        assert clear.returncode != 0
        # After STARTTLS both mechanisms work; a wrong password fails with 535.
        for mech in ("PLAIN", "LOGIN"):
            ok = subprocess.run(base + ["--tls", "--auth", mech, "--auth-user", "alice",
                                        "--auth-password", "s3cret"],
                                capture_output=True, text=True, timeout=60)
            assert ok.returncode == 0, ok.stdout + ok.stderr
            assert re.search(r"<~\s+250 2\.0\.0", ok.stdout), ok.stdout
        bad = subprocess.run(base + ["--tls", "--auth", "PLAIN", "--auth-user", "alice",
                                     "--auth-password", "wrong"],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode != 0 and "535" in bad.stdout
        d.stop()
        assert d.list_spool()[1]["messages"] == 2
        log = d.log_text()
        assert "s3cret" not in log
        assert "TLS" in log


def test_python_starttls_client_negotiates_tls12_or_better():
    with OutpostD(tls=True) as d:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP(d.host, d.port, timeout=10) as client:
            client.starttls(context=ctx)
            assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
            client.sendmail("a@example.com", ["b@example.net"], MESSAGE)
        # TLS 1.1 is refused.
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname = False
        old.verify_mode = ssl.CERT_NONE
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        with smtplib.SMTP(d.host, d.port, timeout=10) as client:
            with pytest.raises((ssl.SSLError, smtplib.SMTPServerDisconnected, OSError)):
                client.starttls(context=old)


def test_implicit_tls_listener_smtps():
    """`smtp-listener ADDR:PORT tls=yes` (RFC 8314, port 465 in production): TLS from the first
    byte, the greeting inside it, no STARTTLS offered; the plain listener beside it still talks
    clear text first."""
    with OutpostD(extra_config="smtp-listener 127.0.0.1:0 tls=yes\n", tls=True) as d:
        with open(d.port_file) as f:
            lines = [line.split() for line in f if line.strip()]
        assert len(lines) == 2, lines
        tls_port = int(lines[1][1].rsplit(":", 1)[1])
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP_SSL(d.host, tls_port, timeout=10, context=ctx) as client:
            assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
            code, ehlo = client.ehlo("smtps.example")
            assert code == 250 and b"STARTTLS" not in ehlo, ehlo
            client.sendmail("a@example.com", ["b@example.net"], MESSAGE)
        # A client that speaks clear text to it gets no greeting: its EHLO is not a handshake.
        with pytest.raises((smtplib.SMTPServerDisconnected, OSError)):
            with smtplib.SMTP(d.host, tls_port, timeout=10) as clear:
                clear.ehlo("plain.example")
        # swaks' implicit TLS (--tls-on-connect) is a second real client.
        r = subprocess.run(["swaks", "--server", f"{d.host}:{tls_port}", "--tls-on-connect",
                            "--from", "a@example.com", "--to", "c@example.net",
                            "--helo", "swaks.example", "--timeout", "10"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        with smtplib.SMTP(d.host, d.port, timeout=10) as plain:
            assert b"STARTTLS" in plain.ehlo("plain.example")[1]
        d.stop()
        assert d.list_spool()[1]["messages"] == 2
        assert re.search(r"listening on 127\.0\.0\.1:\d+ \(tls=yes\)", d.log_text())
