"""The DSN of a recipient that expired says why: the receiver's last reply and who gave it.

outpost-isp-sim defers every recipient of late.test with "451 4.2.0 mailbox busy, try later";
outpostd retries every second and bounces after `bounce-after 3s`. The DSN reaches the sender's
domain (the simulator's --maildir) and must carry, per RFC 3464, `Diagnostic-Code: smtp; 451
4.2.0 mailbox busy, try later` and `Remote-MTA: dns; 127.0.0.1` (the route's host) next to
`Status: 5.4.7`, and its text part must say who deferred it, with what reply, and that it expired
after 3s. The b record keeps its own reason (554 5.4.7 message expired). Waits are on records and
files with deadlines (no sleeps).
"""
import smtplib

from harness.delivery import maildir_messages, wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for

REPLY = "451 4.2.0 mailbox busy, try later"


def test_expired_recipient_dsn_has_diagnostic_code_and_remote_mta(tmp_path):
    maildir = tmp_path / "maildir"
    sim_config = (f'<domain late.test>\n  defer-ratio 1.0 "{REPLY}"\n</domain>\n'
                  f'<domain *> accept </domain>\n')
    with IspSim(tmp_path / "sim", sim_config, maildir=maildir) as sim:
        config = (f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1s\n"
                  f"  bounce-after 3s\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
                client.sendmail("news@sender.test", ["ann@late.test"],
                                "From: news@sender.test\r\nSubject: will expire\r\n"
                                "Message-ID: <expire-why@sender.test>\r\n\r\nbody\r\n")
            b = wait_records(mta, "b", 1, timeout=30)
            assert b[0]["bounceCat"] == "message-expired"
            assert b[0]["dsnDiag"].startswith("smtp;554 5.4.7 message expired"), b[0]
            dsns = wait_for(lambda: maildir_messages(maildir), 30, "the DSN in the maildir")
            assert len(dsns) == 1
            dsn = dsns[0]
            assert dsn.get_content_type() == "multipart/report"
            top = dsn.get_payload()  # notification, delivery-status, original headers
            assert [p.get_content_type() for p in top[:2]] == ["text/plain",
                                                               "message/delivery-status"]
            status = top[1]
            # Each payload item is one header block: per-message, then per-recipient.
            blocks = [dict(item.items()) for item in status.get_payload()]
            rcpt = next(b for b in blocks if "Final-Recipient" in b)
            assert rcpt["Final-Recipient"] == "rfc822; ann@late.test"
            assert rcpt["Action"] == "failed"
            assert rcpt["Status"] == "5.4.7"
            assert rcpt["Diagnostic-Code"] == "smtp; " + REPLY, rcpt
            assert rcpt["Remote-MTA"] == "dns; 127.0.0.1", rcpt
            text = top[0].get_payload(decode=True).decode()
            assert (f"<ann@late.test>: failed: delivery was deferred by 127.0.0.1: {REPLY}; "
                    f"the message expired after 3s in the queue") in text, text
            assert sim.stats()["totals"]["recipients_deferred"] >= 1
