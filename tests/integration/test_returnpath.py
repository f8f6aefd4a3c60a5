"""The return path end to end: reports sent to outpostd for a relay-domain by a client that may
not relay become rb / f accounting records; what is not understood is kept; relaying elsewhere
stays refused.

The bounce samples are tests/data/returnpath/: a DSN the installed Postfix produced
(make_postfix_dsn.sh) and plain-text bounces and ARF reports written from the public formats.
"""
import os
import smtplib
from pathlib import Path

import pytest

from harness.outpostd import OutpostD, give_to_daemon_user, wait_for

DATA = Path(os.environ.get("OUTPOST_SOURCE", Path(__file__).resolve().parents[2])) / \
    "tests" / "data" / "returnpath"

CONFIG = """
relay-domain bounce.sender.example
relay-domain fbl.sender.example
<bounce-processor>
  <address-list>
    domain bounce.sender.example
  </address-list>
</bounce-processor>
<feedback-loop-processor>
  <address-list>
    address fbl@fbl.sender.example
  </address-list>
</feedback-loop-processor>
<acct-file {path}>
  records rb,f
</acct-file>
"""

REPORTS = [
    ("postfix-dsn.eml", "bounces+ann=receiver.example@bounce.sender.example"),
    ("exim-bounce.eml", "bounces+bob=lists.example.org@bounce.sender.example"),
    ("gmail-bounce.eml", "bounces+dave=gmail.com@bounce.sender.example"),
    ("arf-abuse.eml", "fbl@fbl.sender.example"),
    ("jmrp-complaint.eml", "fbl@fbl.sender.example"),
    ("human-reply.eml", "bounces@bounce.sender.example"),
]


def _records(path):
    import csv
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        return []


def _send_from_outside(mta, sender, recipient, message):
    """From 127.0.0.2, which the harness's <source 0/0> does not let relay."""
    with smtplib.SMTP(mta.host, mta.port, timeout=10, source_address=("127.0.0.2", 0)) as c:
        return c.sendmail(sender, [recipient], message)


def test_reports_become_rb_and_f_records(tmp_path):
    rp_acct = tmp_path / "returnpath.csv"
    give_to_daemon_user(tmp_path)  # the accounting file is written after outpostd drops root
    with OutpostD(extra_config=CONFIG.format(path=rp_acct)) as mta:
        # Relaying anywhere else is still refused to this client.
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            _send_from_outside(mta, "", "someone@example.com", "Subject: x\r\n\r\nx\r\n")
        assert refused.value.recipients["someone@example.com"][0] == 550

        for name, recipient in REPORTS:
            text = (DATA / name).read_text()
            assert _send_from_outside(mta, "", recipient, text) == {}

        def done():
            records = _records(rp_acct)
            rb = [r for r in records if r["type"] == "rb"]
            f = [r for r in records if r["type"] == "f"]
            return (rb, f) if len(rb) == 3 and len(f) == 2 else None

        rb, f = wait_for(done, timeout=30, what="3 rb and 2 f records")
        by_rcpt = {r["rcpt"]: r for r in rb}
        assert set(by_rcpt) == {"ann@receiver.example", "bob@lists.example.org", "dave@gmail.com"}
        ann = by_rcpt["ann@receiver.example"]
        assert ann["bounceCat"] == "bad-mailbox"
        assert ann["dsnAction"] == "failed"
        assert ann["dsnStatus"].startswith("5.1.1")
        assert ann["dsnDiag"].startswith("smtp;550 5.1.1")
        assert ann["jobId"] == "nov-news"
        assert ann["envId"] == "nov-news-0001"
        assert ann["orig"] == "bounces+ann=receiver.example@bounce.sender.example"
        assert ann["srcMta"].endswith("(127.0.0.2)")
        assert by_rcpt["bob@lists.example.org"]["bounceCat"] == "inactive-mailbox"
        assert by_rcpt["bob@lists.example.org"]["jobId"] == "dec-offers"
        assert by_rcpt["dave@gmail.com"]["bounceCat"] == "bad-mailbox"
        complaints = {r["rcpt"]: r for r in f}
        assert set(complaints) == {"frank@isp.example", "grace@outlook.example"}
        assert complaints["frank@isp.example"]["jobId"] == "nov-news"
        assert complaints["grace@outlook.example"]["vmta"] == "vmta-green"
        # feedbackType: the ARF Feedback-Type; JMRP has none and counts as abuse; rb has none.
        assert complaints["frank@isp.example"]["feedbackType"] == "abuse"
        assert complaints["grace@outlook.example"]["feedbackType"] == "abuse"
        assert all(r["feedbackType"] == "" for r in rb)

        # The human reply was not understood: kept whole, and logged.
        kept_dir = Path(mta.spool) / "returnpath-unmatched"
        kept = wait_for(lambda: list(kept_dir.glob("*.eml")), timeout=30, what="the kept reply")
        assert len(kept) == 1
        assert "moved house" in kept[0].read_text()
        wait_for(lambda: "not a bounce report Outpost understands" in mta.log_text(),
                 timeout=30, what="the log line of the kept reply")

        # `records` selects: the main file (d,b,t,tq,r) has the r records and no rb/f.
        main_types = {r["type"] for r in mta.acct_records()}
        assert "r" in main_types and "rb" not in main_types and "f" not in main_types

        assert mta.stop() == 0
        messages, summary = mta.list_spool()
        assert summary["messages"] == 0, messages


def test_reports_in_the_spool_are_read_at_start(tmp_path):
    """A report accepted while no processor was configured (the relay-domain mail was queued
    like other mail) is taken from the spool by the processor after a restart with one."""
    rp_acct = tmp_path / "returnpath.csv"
    workdir = tmp_path / "mta"
    workdir.mkdir()
    before = "relay-domain bounce.sender.example\n"
    with OutpostD(extra_config=before, workdir=str(workdir)) as mta:
        text = (DATA / "postfix-dsn.eml").read_text()
        assert _send_from_outside(
            mta, "", "bounces+ann=receiver.example@bounce.sender.example", text) == {}
        assert mta.stop() == 0
    assert not _records(rp_acct)
    give_to_daemon_user(tmp_path)  # the accounting file is written after outpostd drops root
    with OutpostD(extra_config=CONFIG.format(path=rp_acct), workdir=str(workdir)) as mta:
        rb = wait_for(lambda: [r for r in _records(rp_acct) if r["type"] == "rb"], timeout=30,
                      what="the rb record of the recovered report")
        assert [r["rcpt"] for r in rb] == ["ann@receiver.example"]
        assert rb[0]["bounceCat"] == "bad-mailbox"
        assert mta.stop() == 0
        messages, summary = mta.list_spool()
        assert summary["messages"] == 0, messages


def test_live_postfix_bounce_reaches_outpostd(tmp_path):
    """A real Postfix bounces a message (error transport: 5.1.1) and sends its DSN to outpostd's
    relay-domain (relayhost); the DSN becomes an rb record naming the recipient and job."""
    from harness.postfix import Postfix, require_postfix
    require_postfix()
    rp_acct = tmp_path / "returnpath.csv"
    give_to_daemon_user(tmp_path)  # the accounting file is written after outpostd drops root
    with OutpostD(extra_config=CONFIG.format(path=rp_acct)) as mta:
        extra = ("transport_maps = inline:{ {ann@postfix.test = error:5.1.1 User unknown} }\n"
                 f"relayhost = [127.0.0.1]:{mta.port}\n"
                 "smtp_tls_security_level = none\n"
                 "smtpd_reject_unlisted_recipient = no\n")
        with Postfix(domains=["postfix.test"], main_cf=extra) as pf:
            with smtplib.SMTP("127.0.0.1", pf.port, timeout=10) as c:
                c.sendmail("bounces+ann=postfix.test@bounce.sender.example", ["ann@postfix.test"],
                           "From: news@sender.example\r\nTo: ann@postfix.test\r\n"
                           "Subject: live\r\nX-Job: live-job\r\n\r\nhello\r\n")
            rb = wait_for(lambda: [r for r in _records(rp_acct) if r["type"] == "rb"],
                          timeout=60, what="the rb record of Postfix's DSN")
        assert rb[0]["rcpt"] == "ann@postfix.test"
        assert rb[0]["dsnStatus"].startswith("5.1.1")
        assert rb[0]["bounceCat"] == "bad-mailbox"
        assert rb[0]["jobId"] == "live-job"
        assert rb[0]["orig"] == "bounces+ann=postfix.test@bounce.sender.example"
