"""DKIM signatures from outpost-dkim-sign verified independently by dkimpy (Debian's python3-dkim).

Every combination of algorithm (rsa-sha256, ed25519-sha256) and canonicalization (relaxed, simple,
and the mixed forms) signs messages with folded headers, long lines, trailing blank lines,
trailing whitespace and 8-bit bodies; dkimpy must accept each, with its DNS lookup answered from
the test's own public key (no network). A tampered copy must be refused, so the check can fail.
"""
import os
import subprocess

import pytest

dkim = pytest.importorskip("dkim", reason="python3-dkim (dkimpy) is not installed")

BIN = os.environ.get("OUTPOST_BIN", "build/bin")
SIGN = os.path.join(BIN, "outpost-dkim-sign")
DOMAIN = "example.com"
SELECTOR = "s2026"

MESSAGES = {
    "folded headers": (
        b"From: \"A Sender\"\r\n <sender@example.com>\r\n"
        b"To: one@example.net,\r\n\ttwo@example.net,\r\n   three@example.net\r\n"
        b"Subject: a subject that goes on\r\n and on over\r\n\tthree lines\r\n"
        b"Date: Sun, 22 Nov 2026 11:00:00 +0000\r\n"
        b"Message-ID: <folded.1@example.com>\r\n"
        b"\r\n"
        b"Short body.\r\n"
    ),
    "long lines": (
        b"From: sender@example.com\r\n"
        b"To: rcpt@example.net\r\n"
        b"Subject: long lines\r\n"
        b"\r\n" + (b"x" * 990) + b"\r\n" + b" ".join([b"word"] * 190) + b"\r\n"
    ),
    "trailing blank lines and whitespace": (
        b"From: sender@example.com\r\n"
        b"To: rcpt@example.net\r\n"
        b"Subject:   spaced   out   \r\n"
        b"\r\n"
        b"line with trailing space   \r\n"
        b"\ttabbed\t\tline\t\r\n"
        b"\r\n\r\n   \r\n\r\n"
    ),
    "8-bit body": (
        "From: Jörg <joerg@example.com>\r\n"
        "To: rcpt@example.net\r\n"
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Grüße aus Köln — naïve café.\r\n"
    ).encode("utf-8") + b"raw octets: \xff\xfe\x80\r\n",
    "empty body": b"From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: empty\r\n\r\n",
    "bare LF input": b"From: sender@example.com\nTo: rcpt@example.net\nSubject: lf\n\nbody\n\n",
    "repeated headers": (
        b"From: sender@example.com\r\n"
        b"To: a@example.net\r\n"
        b"Cc: b@example.net\r\n"
        b"Cc: c@example.net\r\n"
        b"List-Unsubscribe: <https://example.com/u/1>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        b"Subject: repeated\r\n"
        b"\r\n"
        b"body\r\n"
    ),
}

CANONS = ["relaxed", "simple", "relaxed/simple", "simple/relaxed"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dkim-keys")
    rsa = directory / "rsa.pem"
    ed = directory / "ed25519.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", str(rsa)], check=True, capture_output=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(ed)], check=True,
                   capture_output=True)
    out = {}
    for algorithm, path in (("rsa-sha256", rsa), ("ed25519-sha256", ed)):
        record = subprocess.run([SIGN, "--key", str(path), "--dns-record"], check=True,
                                capture_output=True).stdout.strip()
        out[algorithm] = (path, record)
    return out


def sign(key_path, algorithm, canon, message, extra=()):
    result = subprocess.run(
        [SIGN, "--key", str(key_path), "--domain", DOMAIN, "--selector", SELECTOR,
         "--algorithm", algorithm, "--canon", canon, *extra],
        input=message, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def verify(signed, record):
    lookups = []

    def dnsfunc(name, timeout=5):
        lookups.append(name)
        return record if name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode() else None

    ok = dkim.verify(signed, dnsfunc=dnsfunc)
    assert lookups, "dkimpy never looked up the key: the signature was not even parsed"
    return ok


@pytest.mark.parametrize("algorithm", ["rsa-sha256", "ed25519-sha256"])
@pytest.mark.parametrize("canon", CANONS)
@pytest.mark.parametrize("label", list(MESSAGES))
def test_dkimpy_verifies(keys, algorithm, canon, label):
    key_path, record = keys[algorithm]
    signed = sign(key_path, algorithm, canon, MESSAGES[label])
    assert signed.startswith(b"DKIM-Signature: v=1; a=" + algorithm.encode())
    c = canon if "/" in canon else f"{canon}/{canon}"
    assert f"c={c};".encode() in signed.split(b"\r\n\r\n")[0].replace(b"\r\n ", b" ")
    assert verify(signed, record), f"{label}: dkimpy rejected the {algorithm} {canon} signature"

    # The check can fail: a changed body octet or an added From must be refused.
    body_at = signed.index(b"\r\n\r\n") + 4
    if body_at < len(signed):
        tampered = signed[:body_at] + b"X" + signed[body_at:]
        assert not verify(tampered, record), f"{label}: a changed body still verified"
    added_from = signed.replace(b"\r\nFrom:", b"\r\nFrom: evil@example.org\r\nFrom:", 1)
    assert not verify(added_from, record), f"{label}: an added From still verified (oversigning)"


def test_identity_and_timestamp(keys):
    key_path, record = keys["rsa-sha256"]
    signed = sign(key_path, "rsa-sha256", "relaxed", MESSAGES["folded headers"],
                  ["--identity", "@mail.example.com", "--timestamp", "1700000000"])
    header = signed.split(b"\r\n\r\n")[0].replace(b"\r\n ", b" ")
    assert b"i=@mail.example.com;" in header
    assert b"t=1700000000;" in header
    assert verify(signed, record)


def test_key_errors_are_clean(tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGtleSBtYXRlcmlhbA==\n"
                        b"-----END PRIVATE KEY-----\n")
    for path, want in ((tmp_path / "missing.pem", b"cannot open key file"),
                       (garbage, b"not a PEM private key")):
        result = subprocess.run([SIGN, "--key", str(path), "--domain", DOMAIN, "--selector",
                                 SELECTOR], input=MESSAGES["empty body"], capture_output=True)
        assert result.returncode == 2
        assert want in result.stderr, result.stderr
        assert str(path).encode() in result.stderr
        assert b"c2VjcmV0" not in result.stderr and b"BEGIN" not in result.stderr
        assert result.stdout == b""
