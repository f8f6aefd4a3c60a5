"""VERP end to end with a real Postfix: outpostd sends with VERP (MAIL FROM's XVERP, and a source's
`verp-default yes`) to the installed Postfix, which accepts and then bounces every recipient
(transport `error:`); Postfix's DSNs go to the VERP addresses, which Postfix routes back to
outpostd's bounce processor, and become rb records naming each recipient.

| what                                   | seen where                                          |
|----------------------------------------|-----------------------------------------------------|
| one transaction per recipient          | Postfix's log: each message from the VERP sender   |
|                                        | of its own recipient, nrcpt=1                       |
| accounting keeps the sender as given   | outpostd's d records: orig = bounces@...            |
| the bounce comes back to VERP          | rb records: rcpt = the recipient, orig = the VERP   |
|                                        | address, bounceCat bad-mailbox                      |
| a bounce naming nobody                 | a terse text notice sent to a VERP address gives an |
|                                        | rb record for the address VERP encodes              |

Waits are on files and records with deadlines (no sleeps).
"""
import os
import re
import smtplib
import sys

from harness.outpostd import SOURCE, OutpostD, give_to_daemon_user, wait_for
from harness.postfix import Postfix, require_postfix
from test_returnpath import _records

sys.path.insert(0, os.path.join(SOURCE, "scripts"))
from stack import free_port  # noqa: E402

SENDER = "bounces@bounce.sender.example"

SOURCES = """
<source 127.0.0.1>
  always-allow-relaying yes
</source>
<source 127.0.0.3>
  always-allow-relaying yes
  verp-default yes
</source>
<source 0/0>
  always-allow-relaying no
</source>
"""

CONFIG = """
smtp-listener 127.0.0.1:{back_port}
relay-domain bounce.sender.example
<bounce-processor>
  <address-list>
    domain bounce.sender.example
  </address-list>
</bounce-processor>
<acct-file {path}>
  records rb,f
</acct-file>
<domain pf.test>
  route [127.0.0.1]:{pf_port}
  retry-after 1h
</domain>
"""

TERSE_BOUNCE = ("From: MAILER-DAEMON@mx.pf.test\r\nTo: bounces@bounce.sender.example\r\n"
                "Subject: Undeliverable\r\n\r\nYour message could not be delivered.\r\n"
                "The server answered: 550 5.1.1 no mailbox here by that name\r\n")


def _send(mta, source, recipients, options=()):
    message = f"From: {SENDER}\r\nSubject: verp\r\n\r\nhello\r\n"
    with smtplib.SMTP(mta.host, mta.port, timeout=10, source_address=(source, 0)) as c:
        return c.sendmail(SENDER, recipients, message, mail_options=list(options))


def test_verp_sends_per_recipient_and_postfix_bounces_come_back(tmp_path):
    require_postfix()
    rp_acct = tmp_path / "returnpath.csv"
    give_to_daemon_user(tmp_path)
    back_port = free_port()  # outpostd's second listener, where Postfix sends its bounces
    pf = Postfix(domains=["unused.test"],
                 main_cf="transport_maps = texthash:{dir}/transport\n"
                 # Accept at RCPT (the error transport would refuse there), bounce afterwards.
                 "smtpd_reject_unlisted_recipient = no\n")
    pf.extra = pf.extra.replace("{dir}", str(pf.dir))
    (pf.dir / "transport").write_text(
        "pf.test error:5.1.1 mailbox unavailable\n"
        f"bounce.sender.example smtp:[127.0.0.1]:{back_port}\n")
    with pf:
        config = CONFIG.format(back_port=back_port, path=rp_acct, pf_port=pf.port)
        with OutpostD(extra_config=config, sources=SOURCES) as mta:
            ehlo = smtplib.SMTP(mta.host, mta.port, timeout=10)
            ehlo.ehlo("client.test")
            assert ehlo.has_extn("xverp")
            ehlo.quit()
            assert _send(mta, "127.0.0.1", ["ann@pf.test", "bob@pf.test"], ["XVERP"]) == {}
            assert _send(mta, "127.0.0.3", ["carol@pf.test"]) == {}  # verp-default yes

            def rb_records():
                rb = {r["rcpt"]: r for r in _records(rp_acct) if r["type"] == "rb"}
                return rb if len(rb) >= 3 else None

            rb = wait_for(rb_records, timeout=60, what="3 rb records from Postfix's bounces")
            assert set(rb) == {"ann@pf.test", "bob@pf.test", "carol@pf.test"}
            for rcpt, r in rb.items():
                local, domain = rcpt.split("@")
                assert r["orig"] == f"bounces+{local}={domain}@bounce.sender.example", r
                assert r["bounceCat"] == "bad-mailbox", r
                assert r["dsnStatus"].startswith("5.1.1"), r

            # Postfix saw one sender per recipient, one recipient per transaction.
            log = pf.maillog()
            for rcpt in rb:
                local, domain = rcpt.split("@")
                verp = re.escape(f"bounces+{local}={domain}@bounce.sender.example")
                assert re.search(rf"from=<{verp}>, size=\d+, nrcpt=1 ", log), log[-3000:]
            # outpostd's own accounting keeps the sender as the client gave it.
            delivered = wait_for(lambda: (lambda d: d if len(d) == 3 else None)(
                [r for r in mta.acct_records() if r["type"] == "d"]), 30, "3 d records")
            assert {r["orig"] for r in delivered} == {SENDER}
            assert {r["rcpt"] for r in delivered} == set(rb)

            # A terse notice that names nobody, sent to a VERP address: the address tells.
            with smtplib.SMTP(mta.host, mta.port, timeout=10,
                              source_address=("127.0.0.2", 0)) as c:
                assert c.sendmail("", ["bounces+dan=pf.test@bounce.sender.example"],
                                  TERSE_BOUNCE) == {}
            dan = wait_for(lambda: (rb_records() or {}).get("dan@pf.test"), timeout=30,
                           what="the rb record of the terse bounce")
            assert dan["bounceCat"] == "bad-mailbox"
            assert dan["dsnDiag"].startswith("smtp;550 5.1.1"), dan
