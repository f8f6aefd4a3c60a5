"""The abuse matrix: relay attempts from sources that are not allowed, SMTP smuggling vectors,
overlong lines, too many recipients, pipelining before EHLO and across DATA, slow-drip clients,
connection floods, AUTH guessing, old TLS protocols and weak ciphers."""
import base64
import select
import smtplib
import ssl
import subprocess
import time

import pytest

from harness.outpostd import OutpostD, SmtpWire, wait_for


@pytest.fixture(scope="module")
def mta():
    with OutpostD() as d:
        yield d


def open_session(mta, source="127.0.0.1"):
    wire = SmtpWire(mta.connect(source=source))
    assert wire.reply()[0] == 220
    assert wire.command("EHLO test.example")[0] == 250
    return wire


@pytest.mark.parametrize("rcpt", [
    "victim@example.net",
    "victim%example.net@outpost.test",      # percent hack
    "@relay.example:victim@example.net",    # source route
    "\"victim@example.net\"@outpost.test",  # quoted local part
    "victim@[192.0.2.1]",                   # IP literal
])
def test_relay_denied_from_unlisted_source(mta, rcpt):
    wire = open_session(mta, source="127.0.0.2")
    assert wire.command("MAIL FROM:<spammer@example.com>")[0] == 250
    code, lines = wire.command(f"RCPT TO:<{rcpt}>")
    assert code in (501, 550, 553), lines
    # DATA without an accepted recipient is refused: no message can be accepted.
    assert wire.command("DATA")[0] in (503, 554)
    assert wire.command("QUIT")[0] == 221


def test_relay_allowed_from_listed_source(mta):
    wire = open_session(mta)
    assert wire.command("MAIL FROM:<app@example.com>")[0] == 250
    assert wire.command("RCPT TO:<ann@example.net>")[0] == 250
    assert wire.command("RSET")[0] == 250


SMUGGLING = [
    ("lf_dot_lf", b"Subject: a\r\n\r\nfirst\n.\nMAIL FROM:<evil@example.com>\r\n"),
    ("cr_dot_cr", b"Subject: a\r\n\r\nfirst\r.\rMAIL FROM:<evil@example.com>\r\n"),
    ("lf_dot_crlf", b"Subject: a\r\n\r\nfirst\n.\r\nMAIL FROM:<evil@example.com>\r\n"),
    ("crlf_dot_lf", b"Subject: a\r\n\r\nfirst\r\n.\nMAIL FROM:<evil@example.com>\r\n"),
    ("bare_lf", b"Subject: a\r\n\r\nline one\nline two\r\n"),
    ("bare_cr", b"Subject: a\r\n\r\nline one\rline two\r\n"),
]


@pytest.mark.parametrize("label,payload", SMUGGLING, ids=[s[0] for s in SMUGGLING])
def test_smuggling_vectors_rejected_and_session_in_sync(mta, label, payload):
    wire = open_session(mta)
    assert wire.command("MAIL FROM:<app@example.com>")[0] == 250
    assert wire.command("RCPT TO:<ann@example.net>")[0] == 250
    assert wire.command("DATA")[0] == 354
    # The smuggled "end of data" must not end the message: only CRLF.CRLF does. Nothing is
    # answered until the real end arrives, and then the message is refused as a whole.
    wire.send(payload + b"\r\n.\r\n")
    code, lines = wire.reply()
    assert 500 <= code < 600, (label, lines)
    # The smuggled MAIL FROM was data, not a command: the next reply belongs to NOOP.
    assert wire.command("NOOP")[0] == 250
    assert wire.command("QUIT")[0] == 221


# ---- the rest of the abuse matrix: limits, timeouts, caps, AUTH guessing, TLS ----------------
# One daemon with small limits (so the tests are quick): 3 sessions per IP, 6 in all, 5
# recipients per message, 1 s command timeout, 2 s DATA timeout, 1 s delay per failed AUTH.
# Each test uses its own client address (127.0.0.x) so the per-IP caps do not interfere.
# The management API's 403s (unlisted address; control from a monitor address) are covered by
# test_mgmt_api.py::test_http_access.

STRICT = """
max-smtp-in 6
max-smtp-in-per-ip 3
max-rcpt-per-message 5
smtp-in-command-timeout 1s
smtp-in-data-timeout 2s
smtp-in-auth-failure-delay 1s
<smtp-user alice>
  password s3cret
  source {auth}
</smtp-user>
<source {auth}>
  always-allow-relaying yes
</source>
"""
STRICT_SOURCES = """
<source 127.0.0.1>
  always-allow-relaying yes
</source>
<source 127.0.0.0/8>
  always-allow-relaying yes
</source>
<source 0/0>
  always-allow-relaying no
</source>
"""


@pytest.fixture(scope="module")
def strict():
    with OutpostD(extra_config=STRICT, sources=STRICT_SOURCES, tls=True) as d:
        yield d


def strict_session(d, source):
    wire = SmtpWire(d.connect(source=source))
    assert wire.reply()[0] == 220
    assert wire.command("EHLO abuse.example")[0] == 250
    return wire


def accepted_count(d):
    return d.log_text().count(" accepted ")


def test_overlong_command_line_is_refused_in_sync(strict):
    wire = strict_session(strict, "127.0.0.10")
    code, lines = wire.command("MAIL FROM:<" + "a" * 2000 + "@example.com>")
    assert code == 500, lines
    assert wire.command("NOOP")[0] == 250
    # A flood of one endless line: refused once its end arrives, never buffered whole.
    wire.send("X" * (1 << 20) + "\r\n")
    assert wire.reply()[0] == 500
    assert wire.command("QUIT")[0] == 221


def test_overlong_data_line_rejects_the_message(strict):
    wire = strict_session(strict, "127.0.0.11")
    before = accepted_count(strict)
    assert wire.command("MAIL FROM:<app@example.com>")[0] == 250
    assert wire.command("RCPT TO:<a@example.net>")[0] == 250
    assert wire.command("DATA")[0] == 354
    wire.send("Subject: long\r\n\r\n" + "y" * 5000 + "\r\n.\r\n")
    code, lines = wire.reply()
    assert code == 554 and "5.6.0" in lines[0], lines
    assert wire.command("NOOP")[0] == 250
    assert accepted_count(strict) == before


def test_too_many_recipients(strict):
    wire = strict_session(strict, "127.0.0.12")
    assert wire.command("MAIL FROM:<app@example.com>")[0] == 250
    codes = [wire.command(f"RCPT TO:<r{i}@example.net>") for i in range(7)]
    assert [c for c, _ in codes[:5]] == [250] * 5
    assert codes[5][0] == 452 and "4.5.3" in codes[5][1][0]
    assert codes[6][0] == 452
    assert wire.command("RSET")[0] == 250


def test_pipelining_before_ehlo_is_refused(strict):
    before = accepted_count(strict)
    wire = SmtpWire(strict.connect(source="127.0.0.13"))
    assert wire.reply()[0] == 220
    wire.send("MAIL FROM:<app@example.com>\r\nRCPT TO:<a@example.net>\r\nDATA\r\n"
              "Subject: early\r\n\r\nbody\r\n.\r\nNOOP\r\n")
    mail, rcpt, data = wire.reply(), wire.reply(), wire.reply()
    assert mail[0] == 503, mail
    assert rcpt[0] == 503 and data[0] == 503, (rcpt, data)
    # The would-be message lines are answered as (bad) commands, one reply each; then NOOP.
    replies = [wire.reply()[0] for _ in range(5)]
    assert all(code >= 500 for code in replies[:4]) and replies[4] == 250, replies
    assert wire.command("QUIT")[0] == 221
    assert accepted_count(strict) == before


def test_pipelining_across_data_keeps_commands_and_data_apart(strict):
    wire = strict_session(strict, "127.0.0.14")
    before = accepted_count(strict)
    # Everything in one write: the DATA group, the message, and the next transaction's commands.
    wire.send("MAIL FROM:<app@example.com>\r\nRCPT TO:<a@example.net>\r\nDATA\r\n"
              "Subject: one\r\n\r\nRSET\r\nMAIL FROM:<evil@example.com>\r\n.\r\n"
              "MAIL FROM:<app@example.com>\r\nRCPT TO:<b@example.net>\r\nNOOP\r\n")
    codes = [wire.reply()[0] for _ in range(7)]
    # MAIL, RCPT, 354, then the message (with its RSET/MAIL lines as text) accepted whole, then
    # the three commands of the next group answered in order.
    assert codes == [250, 250, 354, 250, 250, 250, 250], codes
    assert wire.command("RSET")[0] == 250
    assert accepted_count(strict) == before + 1


def drip(wire, payload, period=0.3, limit=10.0):
    """Sends `payload` one byte per `period` (waiting on the socket, not sleeping) until the
    server closes or replies; returns (seconds until the server ended it, bytes sent)."""
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < limit:
        readable, _, _ = select.select([wire.sock], [], [], period)
        if readable:
            try:
                data = wire.sock.recv(4096)
            except ConnectionResetError:
                data = b""
            if not data or b"421" in data:
                return time.monotonic() - start, sent
            continue
        try:
            wire.sock.send(payload[sent % len(payload):sent % len(payload) + 1])
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start, sent
        sent += 1
    return None, sent


def test_slow_drip_clients_are_cut_and_free_their_slots(strict):
    source = "127.0.0.15"
    wires = [strict_session(strict, source) for _ in range(3)]
    # The per-IP cap (3) is full: a fourth session is refused.
    extra = SmtpWire(strict.connect(source=source))
    assert extra.reply()[0] == 421
    # Command phase: one byte every 0.3 s never completes a line; the 1 s timeout cuts it.
    elapsed, sent = drip(wires[0], b"NOOP NOOP NOOP NOOP")
    assert elapsed is not None and elapsed < 1.0 + 1.5, (elapsed, sent)
    assert sent >= 2
    # Idle sessions are cut too.
    assert wire_closed_within(wires[1], 3.0) and wire_closed_within(wires[2], 3.0)
    # DATA phase, on a slot that was freed: the whole phase has 2 s, however the bytes are spaced.
    w = wait_for(lambda: greeted_session(strict, source), timeout=5, what="a freed slot")
    assert w.command("EHLO abuse.example")[0] == 250
    assert w.command("MAIL FROM:<app@example.com>")[0] == 250
    assert w.command("RCPT TO:<a@example.net>")[0] == 250
    assert w.command("DATA")[0] == 354
    elapsed, sent = drip(w, b"Subject: slow\r\n\r\nbody line\r\n", period=0.2)
    assert elapsed is not None and elapsed < 2.0 + 1.5, (elapsed, sent)
    assert sent >= 5
    # The slots are free again.
    wait_for(lambda: session_greeted(strict, source), timeout=5, what="a freed slot")


def wire_closed_within(wire, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        readable, _, _ = select.select([wire.sock], [], [], 0.1)
        if readable:
            try:
                data = wire.sock.recv(4096)
            except ConnectionResetError:
                return True
            if not data:
                return True
    return False


def greeted_session(d, source):
    """A new session from `source` if it is greeted with 220, else None."""
    wire = SmtpWire(d.connect(source=source, timeout=5))
    if wire.reply()[0] == 220:
        return wire
    wire.sock.close()
    return None


def session_greeted(d, source):
    try:
        s = d.connect(source=source, timeout=5)
    except OSError:
        return False
    with s:
        code, _ = SmtpWire(s).reply()
        return code == 220


def test_connection_flood_caps_hold_and_legitimate_client_is_served(strict):
    held, refused = [], 0
    for _ in range(10):
        s = strict.connect(source="127.0.0.16")
        code, _ = SmtpWire(s).reply()
        if code == 220:
            held.append(s)
        else:
            assert code == 421
            refused += 1
            s.close()
    assert len(held) == 3 and refused == 7
    # A second flooding address fills the total cap (6; a session of an earlier test may still
    # be closing, so it may get fewer than its 3) ...
    for _ in range(3):
        s = strict.connect(source="127.0.0.17")
        if SmtpWire(s).reply()[0] == 220:
            held.append(s)
        else:
            s.close()
    # ... a third address gets what is left, then 421: never more than 6 at once.
    total_cap_hit = False
    for _ in range(6):
        s = strict.connect(source="127.0.0.18")
        if SmtpWire(s).reply()[0] == 220:
            held.append(s)
        else:
            s.close()
            total_cap_hit = True
            break
    assert total_cap_hit and len(held) <= 6, len(held)
    # ... and when one flooder leaves, a legitimate client is served at once.
    for s in held[3:]:
        s.close()
    wait_for(lambda: session_greeted(strict, "127.0.0.1"), timeout=5, what="a legitimate slot")
    with smtplib.SMTP(strict.host, strict.port, timeout=10) as client:
        assert client.sendmail("app@example.com", ["ok@example.net"],
                               "Subject: served\r\n\r\nhi\r\n") == {}
    for s in held[:3]:
        s.close()


def test_auth_guessing_is_delayed_and_capped(strict):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    client = smtplib.SMTP(strict.host, strict.port, timeout=10, source_address=("127.0.0.19", 0))
    client.starttls(context=ctx)
    client.ehlo("guess.example")
    times = []
    codes = []
    for guess in ("a", "b", "c"):
        token = base64.b64encode(b"\0alice\0" + guess.encode()).decode()
        start = time.monotonic()
        client.putcmd("AUTH", "PLAIN " + token)
        code, _ = client.getreply()
        times.append(time.monotonic() - start)
        codes.append(code)
    assert codes == [535, 535, 535], codes
    assert all(t >= 0.9 for t in times), times  # smtp-in-auth-failure-delay 1s
    # The third failure ends the session (421 follows the 535).
    code, _ = client.getreply()
    assert code == 421
    with pytest.raises((smtplib.SMTPServerDisconnected, OSError)):
        client.noop()
    client.close()
    log = strict.log_text()
    assert log.count("AUTH failed for user=alice") >= 3
    # The right password still works afterwards (no lock-out of the real user).
    with smtplib.SMTP(strict.host, strict.port, timeout=10,
                      source_address=("127.0.0.19", 0)) as ok:
        ok.starttls(context=ctx)
        ok.login("alice", "s3cret")


def s_client(d, *args):
    return subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                           f"{d.host}:{d.port}", *args],
                          input="QUIT\n", capture_output=True, text=True, timeout=30)


def negotiated(result):
    out = result.stdout + result.stderr
    return "Cipher is" in out and "Cipher is (NONE)" not in out


@pytest.mark.parametrize("label,args", [
    ("weak_ciphers", ["-tls1_2", "-cipher", "RC4:DES:3DES:EXPORT:NULL:aNULL:@SECLEVEL=0"]),
    ("tls1_1", ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]),
    ("tls1_0", ["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]),
])
def test_tls_refuses_old_protocols_and_weak_ciphers(strict, label, args):
    # The same client with defaults negotiates (so a failure below is the server's refusal).
    assert negotiated(s_client(strict)), "openssl s_client cannot negotiate at all"
    result = s_client(strict, *args)
    assert not negotiated(result), (label, result.stdout[-2000:])


# ---- AUTH guessing across sessions: the per-address cap ------------------------------------
# A guesser reconnects to escape the per-session cap of 3; max-auth-failures-per-ip counts across
# sessions. Its own daemon (the count is per daemon) with no failure delay, so the test is quick.

PER_IP_AUTH = """
smtp-in-auth-failure-delay 0s
max-auth-failures-per-ip 5
auth-failure-window 10m
<smtp-user alice>
  password s3cret
  source {auth}
</smtp-user>
<source {auth}>
  always-allow-relaying yes
</source>
"""


def tls_client(d, source):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    client = smtplib.SMTP(d.host, d.port, timeout=10, source_address=(source, 0))
    client.starttls(context=ctx)
    client.ehlo("guess.example")
    return client


def auth_plain(client, user, password):
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    client.putcmd("AUTH", "PLAIN " + token)
    return client.getreply()


def test_auth_guessing_cap_per_address_survives_reconnects():
    with OutpostD(extra_config=PER_IP_AUTH, sources=STRICT_SOURCES, tls=True) as d:
        guesser = "127.0.0.1"
        # Session 1: the per-session cap (3 failures, then 421 and close).
        c = tls_client(d, guesser)
        assert [auth_plain(c, "alice", g)[0] for g in ("a", "b", "c")] == [535, 535, 535]
        assert c.getreply()[0] == 421
        c.close()
        # Session 2 (a reconnect): failures 4 and 5; the count did not start again at 0, so the
        # next AUTH is refused without a password check, in this session ...
        c = tls_client(d, guesser)
        assert [auth_plain(c, "alice", g)[0] for g in ("d", "e")] == [535, 535]
        code, text = auth_plain(c, "alice", "s3cret")
        assert (code, text[:5]) == (454, b"4.7.0"), (code, text)
        assert c.noop()[0] == 250  # the session itself is still served
        c.quit()
        # ... and in every new session from that address, even with the right password.
        for _ in range(2):
            c = tls_client(d, guesser)
            code, text = auth_plain(c, "alice", "s3cret")
            assert (code, text[:5]) == (454, b"4.7.0"), (code, text)
            c.quit()
        # Another source address is served.
        c = tls_client(d, "127.0.0.2")
        assert auth_plain(c, "alice", "s3cret")[0] == 235
        c.quit()
        log = d.log_text()
        assert log.count("AUTH failed for user=alice") == 5
        assert log.count("AUTH refused: too many failures from this address") == 3
