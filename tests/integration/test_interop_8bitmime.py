"""8-bit mail to a real Postfix that does not offer 8BITMIME (`smtpd_discard_ehlo_keywords =
8bitmime`): outpostd converts to 7-bit MIME before DKIM signing (RFC 6152: convert or bounce).

| message                                   | expected at Postfix / in accounting               |
|-------------------------------------------|---------------------------------------------------|
| text/plain; charset=utf-8, 8bit           | 7-bit, Content-Transfer-Encoding quoted-printable, |
|                                           | decodes to the original text; dkimpy verifies      |
| multipart/mixed: 8-bit text + 8-bit binary| text part quoted-printable, attachment base64,     |
|                                           | both decode to the originals; dkimpy verifies      |
| an 8-bit Subject                          | not delivered: a b record with 5.6.3 (conversion   |
|                                           | required but not possible)                         |

The counters reach /status.json (interop.converted_8bit, refused_8bit). Waits are on files,
records and status values with deadlines (no sleeps).
"""
import email
import email.policy
import smtplib
import subprocess

import pytest

from harness.delivery import wait_records
from harness.mgmt import MGMT_CONFIG, MgmtClient
from harness.outpostd import OutpostD, binary, wait_for
from harness.postfix import Postfix, require_postfix

dkim = pytest.importorskip("dkim", reason="python3-dkim (dkimpy) is not installed")

TEXT = "Grüße aus Köln — naïve café.\n" + "Zeile mit äöü " * 12 + "\nEnde.\n"
BINARY = bytes(range(256)) * 3


def _genkey(path):
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(path)], check=True, capture_output=True)
    return subprocess.run([binary("outpost-dkim-sign"), "--key", str(path), "--dns-record"],
                          check=True, capture_output=True).stdout.strip()


def _crlf(text):
    return text.replace("\n", "\r\n")


def _messages():
    head = "From: News <news@sender.example>\r\nTo: u@pf.test\r\n"
    plain = (head + "Subject: plain 8bit\r\nMessage-ID: <plain@sender.example>\r\n"
             "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\n\r\n" + _crlf(TEXT)).encode()
    mixed = (head + "Subject: mixed 8bit\r\nMessage-ID: <mixed@sender.example>\r\n"
             "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
             "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\n\r\n" + _crlf(TEXT) + "\r\n"
             "--b1\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
             "Content-Transfer-Encoding: binary\r\n\r\n").encode()
    # The DATA reader refuses bare CR/LF: the binary attachment is sent without them.
    mixed += BINARY.replace(b"\r", b"").replace(b"\n", b"") + b"\r\n--b1--\r\n"
    header = (head + "Subject: Grüße\r\nMessage-ID: <header@sender.example>\r\n\r\n"
              "body\r\n").encode()
    return {"plain": plain, "mixed": mixed, "header": header}


def _verify(data, records):
    looked_up = []

    def dnsfunc(name, timeout=5):
        looked_up.append(name)
        return records.get(name)

    ok = dkim.verify(data, dnsfunc=dnsfunc)
    assert looked_up, "no DKIM-Signature was parsed"
    return ok


def test_8bit_to_postfix_without_8bitmime_is_converted_and_signed_after(tmp_path):
    require_postfix()
    records = {b"s1._domainkey.sender.example.": _genkey(tmp_path / "rsa.pem")}
    with Postfix(domains=["pf.test"], main_cf="smtpd_discard_ehlo_keywords = 8bitmime\n") as pf:
        config = (MGMT_CONFIG + f"domain-key s1,sender.example,{tmp_path / 'rsa.pem'}\n"
                  f"<domain pf.test>\n  route [127.0.0.1]:{pf.port}\n  dkim-sign yes\n"
                  f"  retry-after 1h\n</domain>\n")
        with OutpostD(extra_config=config, workdir=str(tmp_path)) as mta:
            messages = _messages()
            with smtplib.SMTP(mta.host, mta.port, timeout=30) as client:
                for data in messages.values():
                    assert client.sendmail("news@sender.example", ["u@pf.test"], data,
                                           mail_options=["BODY=8BITMIME"]) == {}
            bounced = wait_records(mta, "b", 1)
            assert bounced[0]["dsnStatus"].startswith("5.6.3"), bounced
            assert "8-bit bytes in a header section" in bounced[0]["dsnDiag"], bounced
            delivered = wait_records(mta, "d", 2)
            assert all("8BITMIME" not in r["dlvEsmtpAvailable"] for r in delivered), delivered
            received = pf.wait_messages(2)
            by_id = {}
            for raw in received:
                assert max(raw) < 128, "Postfix received 8-bit bytes"
                data = raw.replace(b"\n", b"\r\n")  # virtual(8) wrote LF line ends
                msg = email.message_from_bytes(data, policy=email.policy.default)
                by_id[msg["Message-ID"]] = (data, msg)
            assert set(by_id) == {"<plain@sender.example>", "<mixed@sender.example>"}

            data, msg = by_id["<plain@sender.example>"]
            assert msg["Content-Transfer-Encoding"] == "quoted-printable"
            assert msg.get_content().replace("\r\n", "\n") == TEXT
            assert _verify(data, records), "dkimpy rejected the converted plain message"

            data, msg = by_id["<mixed@sender.example>"]
            text_part, attachment = list(msg.iter_parts())
            assert text_part["Content-Transfer-Encoding"] == "quoted-printable"
            assert text_part.get_content().replace("\r\n", "\n") == TEXT
            assert attachment["Content-Transfer-Encoding"] == "base64"
            assert attachment.get_content() == BINARY.replace(b"\r", b"").replace(b"\n", b"")
            assert _verify(data, records), "dkimpy rejected the converted multipart message"
            # The check can fail: a changed body byte is refused.
            at = data.index(b"\r\n\r\n") + 4
            assert not _verify(data[:at] + b"X" + data[at:], records)

            wait_for(lambda: (lambda i: i["converted_8bit"] == 2 and i["refused_8bit"] == 1)(
                MgmtClient(mta).get("/status.json")[1]["interop"]), 15, "interop counters")
