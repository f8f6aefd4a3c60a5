"""outpostd signs what it delivers: dkimpy verifies every message the ISP simulator received.

One outpostd holds two domain-keys (RSA-2048 for rsa.example, Ed25519 for ed.example, made with
openssl genpkey in the test's temp dir) and routes four destination domains to the simulator, each
with its own canonicalization pair under `<domain *> dkim-sign yes`. Every message variant (folded
headers, long lines, trailing blank lines, an 8-bit body sent with BODY=8BITMIME, a dot-stuffed
line) goes from each signing domain to each destination; dkimpy (Debian's python3-dkim, its DNS
lookup answered from the test's public keys, no network) must accept every received file, with the
a= and c= the policy asks for. A message from a domain without a key arrives unsigned.
Reload: a garbage key refuses the reload naming file:line (the running keys stay); a new key with
a new selector is used after a good reload. Start-up: a missing or garbage key fails
`--check-config` and start-up naming file:line, without key material in the output.
"""
import os
import signal
import smtplib
import subprocess

import pytest

from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, binary, wait_for

dkim = pytest.importorskip("dkim", reason="python3-dkim (dkimpy) is not installed")
pytest.importorskip("nacl", reason="python3-nacl (Ed25519 for dkimpy) is not installed")

# destination domain -> (dkim-headers-canon, dkim-body-canon)
DESTINATIONS = {
    "rr.test": ("relaxed", "relaxed"),
    "ss.test": ("simple", "simple"),
    "rs.test": ("relaxed", "simple"),
    "sr.test": ("simple", "relaxed"),
}
SIGNERS = {"rsa.example": "rsa-sha256", "ed.example": "ed25519-sha256"}


def _variants(sender, to, mid):
    head = f"From: Sender <{sender}>\r\nTo: {to}\r\nMessage-ID: <{mid}>\r\n"
    return {
        "folded": (head +
                   "Subject: a subject that goes on\r\n and on over\r\n\tthree lines\r\n"
                   "Date: Sun, 22 Nov 2026 11:00:00 +0000\r\n\r\nShort body.\r\n"
                   "..a line that starts with a dot (dot-stuffed on the wire)\r\n").encode(),
        "long": (head + "Subject: long lines\r\n\r\n" + "x" * 990 + "\r\n" +
                 " ".join(["word"] * 190) + "\r\n").encode(),
        "trailing": (head + "Subject:   spaced   out   \r\n\r\nline with trailing space   \r\n"
                     "\ttabbed\t\tline\t\r\n\r\n\r\n   \r\n\r\n").encode(),
        "8bit": (head + "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
                 "\r\nGrüße aus Köln — naïve café.\r\n").encode() + b"raw octets: \xfe\x80\r\n",
    }


def _genkey(path, algorithm):
    args = ["openssl", "genpkey", "-algorithm", algorithm, "-out", str(path)]
    if algorithm == "RSA":
        args[4:4] = ["-pkeyopt", "rsa_keygen_bits:2048"]
    subprocess.run(args, check=True, capture_output=True)


def _dns_record(path):
    return subprocess.run([binary("outpost-dkim-sign"), "--key", str(path), "--dns-record"],
                          check=True, capture_output=True).stdout.strip()


def _received(maildir):
    """Received files by Message-ID (bytes as the simulator got them, dot-unstuffed)."""
    new = maildir / "new"
    out = {}
    if new.is_dir():
        for name in os.listdir(new):
            data = (new / name).read_bytes()
            for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    out[line.split(b"<", 1)[1].split(b">", 1)[0].decode()] = data
    return out


def _tag(data, name):
    head = data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
    for line in head.split(b"\r\n"):
        if line.startswith(b"DKIM-Signature:"):
            for tag in line[len(b"DKIM-Signature:"):].split(b";"):
                key, _, value = tag.strip().partition(b"=")
                if key == name.encode():
                    return value.replace(b" ", b"").decode()
    return None


def _verify(data, records):
    lookups = []

    def dnsfunc(name, timeout=5):
        lookups.append(name)
        return records.get(name)

    ok = dkim.verify(data, dnsfunc=dnsfunc)
    assert lookups, "dkimpy never looked up a key: no signature was parsed"
    return ok


def _config(keys, sim_port):
    lines = [f"domain-key {sel},{dom},{path}" for sel, dom, path in keys]
    lines.append(f"<domain *>\n  route [127.0.0.1]:{sim_port}\n  dkim-sign yes\n</domain>")
    for dest, (hc, bc) in DESTINATIONS.items():
        lines.append(f"<domain {dest}>\n  dkim-headers-canon {hc}\n  dkim-body-canon {bc}\n"
                     f"</domain>")
    # An explicit dkim-algorithm matching the key type is honoured too.
    lines.append("<domain alg.test>\n  dkim-algorithm ed25519-sha256\n</domain>")
    return "\n".join(lines) + "\n"


def _send(mta, sender, rcpt, data):
    with smtplib.SMTP(mta.host, mta.port, timeout=30) as client:
        options = ["BODY=8BITMIME"] if any(b > 127 for b in data) else []
        assert client.sendmail(sender, [rcpt], data, mail_options=options) == {}


def test_every_delivered_message_verifies_with_dkimpy(tmp_path):
    _genkey(tmp_path / "rsa.pem", "RSA")
    _genkey(tmp_path / "ed.pem", "ed25519")
    _genkey(tmp_path / "ed2.pem", "ed25519")
    records = {b"s1._domainkey.rsa.example.": _dns_record(tmp_path / "rsa.pem"),
               b"s2._domainkey.ed.example.": _dns_record(tmp_path / "ed.pem"),
               b"s3._domainkey.ed.example.": _dns_record(tmp_path / "ed2.pem")}
    keys = [("s1", "rsa.example", tmp_path / "rsa.pem"), ("s2", "ed.example", tmp_path / "ed.pem")]
    maildir = tmp_path / "maildir"
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim:
        with OutpostD(extra_config=_config(keys, sim.port), workdir=str(tmp_path)) as mta:
            expected = {}  # Message-ID -> (a=, c=) or None for unsigned
            with smtplib.SMTP(mta.host, mta.port, timeout=30) as client:
                for signer, algorithm in SIGNERS.items():
                    for dest, (hc, bc) in DESTINATIONS.items():
                        for label in ("folded", "long", "trailing", "8bit"):
                            mid = f"{label}.{signer}.{dest}@test"
                            data = _variants(f"news@{signer}", f"u@{dest}", mid)[label]
                            opts = ["BODY=8BITMIME"] if label == "8bit" else []
                            assert client.sendmail(f"news@{signer}", [f"u@{dest}"], data,
                                                   mail_options=opts) == {}
                            expected[mid] = (algorithm, f"{hc}/{bc}")
                mid = "alg.ed.example@test"
                client.sendmail("news@ed.example", ["u@alg.test"],
                                _variants("news@ed.example", "u@alg.test", mid)["folded"])
                expected[mid] = ("ed25519-sha256", "relaxed/relaxed")
                mid = "nokey@test"
                client.sendmail("news@nokey.example", ["u@rr.test"],
                                _variants("news@nokey.example", "u@rr.test", mid)["folded"])
                expected[mid] = None

            got = wait_for(lambda: (lambda r: r if len(r) >= len(expected) else None)(
                _received(maildir)), timeout=60, what=f"{len(expected)} messages at the sim")
            assert set(got) == set(expected)
            for mid, want in expected.items():
                data = got[mid]
                if want is None:
                    assert b"DKIM-Signature:" not in data, f"{mid}: signed without a key"
                    continue
                assert _tag(data, "a") == want[0], mid
                assert _tag(data, "c") == want[1], mid
                assert _verify(data, records), f"{mid}: dkimpy rejected the signature"
                # The check can fail: one changed body octet must be refused.
                at = data.index(b"\r\n\r\n") + 4
                assert not _verify(data[:at] + b"X" + data[at:], records), mid

            # Reload with a garbage key: refused at the domain-key's file:line; keys stay.
            garbage = tmp_path / "garbage.pem"
            garbage.write_bytes(b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGtleQ==\n"
                                b"-----END PRIVATE KEY-----\n")
            good_text = open(mta.config_path).read()
            bad_text = good_text.replace(str(tmp_path / "ed.pem"), str(garbage))
            bad_line = bad_text.splitlines().index(f"domain-key s2,ed.example,{garbage}") + 1
            with open(mta.config_path, "w") as f:
                f.write(bad_text)
            mta.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload refused" in mta.log_text(), 20, "reload refused")
            assert f"{mta.config_path}:{bad_line}:" in mta.log_text()
            assert "c2VjcmV0" not in mta.log_text()
            mid = "after-bad-reload@test"
            _send(mta, "news@ed.example", "u@rr.test",
                  _variants("news@ed.example", "u@rr.test", mid)["long"])
            data = wait_for(lambda: _received(maildir).get(mid), 30, "message after bad reload")
            assert _tag(data, "s") == "s2" and _verify(data, records)

            # Good reload: ed.example now signs with selector s3 and the new key.
            with open(mta.config_path, "w") as f:
                f.write(good_text.replace(f"s2,ed.example,{tmp_path / 'ed.pem'}",
                                          f"s3,ed.example,{tmp_path / 'ed2.pem'}"))
            mta.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "configuration reloaded from" in mta.log_text(), 20, "reload")
            mid = "after-good-reload@test"
            _send(mta, "news@ed.example", "u@ss.test",
                  _variants("news@ed.example", "u@ss.test", mid)["trailing"])
            data = wait_for(lambda: _received(maildir).get(mid), 30, "message after reload")
            assert _tag(data, "s") == "s3" and _verify(data, records)
            assert mta.stop() == 0


@pytest.mark.parametrize("kind", ["missing", "garbage"])
def test_bad_key_fails_check_config_and_startup_naming_file_line(tmp_path, kind):
    key = tmp_path / "key.pem"
    if kind == "garbage":
        key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGtleQ==\n"
                        b"-----END PRIVATE KEY-----\n")
    mta = OutpostD(extra_config=f"domain-key s1,example.com,{key}\n", workdir=str(tmp_path))
    try:
        line = mta.config_text.splitlines().index(f"domain-key s1,example.com,{key}") + 1
        where = f"{mta.config_path}:{line}:"
        check = subprocess.run([binary("outpostd"), "--check-config", mta.config_path],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode != 0
        assert where in check.stderr, check.stderr
        start = subprocess.run([binary("outpostd"), "--config", mta.config_path, "--port-file",
                                mta.port_file], capture_output=True, text=True, timeout=60)
        assert start.returncode != 0
        assert where in start.stderr, start.stderr
        for output in (check.stderr, start.stderr, check.stdout, start.stdout):
            assert "c2VjcmV0" not in output and "BEGIN" not in output
    finally:
        mta.close()
