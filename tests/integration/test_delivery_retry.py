"""Retry schedule and expiry with a simulator that always defers: t records at the configured
spacing (retry-after 1s,2s), then after bounce-after a b record (message-expired) and an RFC 3464
DSN delivered to the envelope sender's domain (checked in the simulator's --maildir with Python's
email module); a null-sender message expires without a DSN.

Timing uses small configured durations; the test waits on records appearing, with deadlines, and
notes when each appeared.
"""
import smtplib
import time

from harness.delivery import maildir_messages, records, wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for


def test_retry_spacing_then_expiry_bounce_and_dsn(tmp_path):
    maildir = tmp_path / "maildir"
    sim_config = ('<domain slow.test>\n  defer-ratio 1.0 "451 4.3.0 try again later"\n'
                  '</domain>\n<domain *> accept </domain>\n')
    with IspSim(tmp_path / "sim", sim_config, maildir=maildir) as sim:
        config = (f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1s,2s\n"
                  f"  bounce-after 5s\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
                client.sendmail("news@sender.test", ["ann@slow.test"],
                                "From: news@sender.test\r\nSubject: will expire\r\n"
                                "Message-ID: <expire-1@sender.test>\r\n\r\nbody\r\n")
                client.sendmail("", ["bob@slow.test"],
                                "Subject: null sender\r\nMessage-ID: <expire-2@sender.test>"
                                "\r\n\r\nbody\r\n")
            # Note when each of ann's t records appears.
            seen = []

            def next_t():
                n = len([r for r in records(mta, "t") if r["rcpt"] == "ann@slow.test"])
                while len(seen) < n:
                    seen.append(time.monotonic())
                return n >= 3
            wait_for(next_t, timeout=20, what="three t records")
            gap1, gap2 = seen[1] - seen[0], seen[2] - seen[1]
            # Due times are kept to 100 ms (rounded up).
            assert 0.9 <= gap1 <= 1.6, seen
            assert 1.9 <= gap2 <= 2.6, seen
            b = wait_records(mta, "b", 2, timeout=20)
            for r in b:
                assert r["bounceCat"] == "message-expired"
                assert r["dsnStatus"].startswith("5.4.7")
            # The DSN goes to news@sender.test through the route: a d record and the sim's copy.
            d = wait_records(mta, "d", 1, timeout=20)
            assert d[0]["rcpt"] == "news@sender.test"
            assert d[0]["orig"] == ""
            dsns = wait_for(lambda: maildir_messages(maildir), what="DSN in the maildir")
            assert len(dsns) == 1
            dsn = dsns[0]
            assert dsn.get_content_type() == "multipart/report"
            assert dsn.get_param("report-type") == "delivery-status"
            parts = [p.get_content_type() for p in dsn.walk()]
            assert "message/delivery-status" in parts
            status = next(p for p in dsn.walk() if p.get_content_type() == "message/delivery-status")
            text = str(status.get_payload(0)) + "".join(str(p) for p in status.get_payload())
            assert "ann@slow.test" in text
            assert "5.4.7" in text
            assert "bob@slow.test" not in text
            assert "expire-1@sender.test" in dsn.as_string()
            # Null sender: expired, no DSN (only one message ever reached the simulator).
            assert sim.stats()["totals"]["messages"] == 1
            assert len(records(mta, "d")) == 1
            assert mta.stop() == 0
            _, summary = mta.list_spool()
            assert summary["messages"] == 0
