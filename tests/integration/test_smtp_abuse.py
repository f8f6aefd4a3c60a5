"""Relay attempts from sources that are not allowed, and SMTP smuggling vectors."""
import pytest

from harness.outpostd import OutpostD, SmtpWire


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
