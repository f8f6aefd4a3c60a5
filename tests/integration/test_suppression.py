"""The suppression list against the real daemon (docs/powermta.md, "Suppression"): a recipient
whose complaint (an ARF report to the feedback-loop processor) was processed, or who hard-bounced,
is refused at RCPT; operators list, add and remove entries through the API (admin only) and outpostctl; the list
survives a restart and kill -9.
"""
import os
import smtplib
import subprocess
from pathlib import Path

import pytest

from harness.delivery import wait_records
from harness.isp_sim import IspSim
from harness.mgmt import MGMT_CONFIG, MgmtClient
from harness.outpostd import OutpostD, binary, wait_for

DATA = Path(os.environ.get("OUTPOST_SOURCE", Path(__file__).resolve().parents[2])) / \
    "tests" / "data" / "returnpath"

CONFIG = MGMT_CONFIG + """
suppression-list yes
relay-domain fbl.sender.example
<feedback-loop-processor>
  <address-list>
    address fbl@fbl.sender.example
  </address-list>
</feedback-loop-processor>
"""


def send(mta, recipients, source="127.0.0.1"):
    """Injects from `source` (127.0.0.1 may relay); returns the refused recipients."""
    with smtplib.SMTP(mta.host, mta.port, timeout=10, source_address=(source, 0)) as c:
        return c.sendmail("news@sender.example", recipients, "Subject: hi\r\n\r\nhello\r\n")


def refusal(mta, recipient):
    """The (code, text) RCPT TO:<recipient> is answered with."""
    with smtplib.SMTP(mta.host, mta.port, timeout=10) as c:
        c.ehlo()
        c.mail("news@sender.example")
        code, text = c.rcpt(recipient)
        return code, text.decode()


def ctl(mta, *args):
    url = MgmtClient(mta).url
    p = subprocess.run([binary("outpostctl"), "--url", url, *args], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def listed(mta, address):
    status, body = MgmtClient(mta).get("/api/suppressions", {"address": address})
    return body["entry"] if status == 200 else None


def test_a_complained_recipient_is_not_sent_to_again(tmp_path):
    workdir = tmp_path / "mta"
    workdir.mkdir()
    with OutpostD(extra_config=CONFIG, workdir=str(workdir)) as mta:
        c = MgmtClient(mta)
        assert refusal(mta, "frank@isp.example")[0] == 250  # not listed yet
        report = (DATA / "arf-abuse.eml").read_text()  # frank@isp.example complained
        with smtplib.SMTP(mta.host, mta.port, timeout=10, source_address=("127.0.0.2", 0)) as s:
            assert s.sendmail("", ["fbl@fbl.sender.example"], report) == {}
        entry = wait_for(lambda: listed(mta, "frank@isp.example"), timeout=30,
                         what="frank on the suppression list")
        assert entry["kind"] == "complaint" and entry["expires"] is None

        code, text = refusal(mta, "Frank@ISP.example")
        assert code == 550
        assert text.startswith("5.7.1 <Frank@ISP.example> is on the suppression list (complaint")
        # Other recipients of the same message are taken.
        refused = send(mta, ["frank@isp.example", "other@isp.example"])
        assert list(refused) == ["frank@isp.example"] and refused["frank@isp.example"][0] == 550

        def counted():
            s = c.get("/status.json")[1]["suppression"]
            return s if s["suppressed_recipients"] == 2 else None
        s = wait_for(counted, timeout=10, what="2 suppressed recipients in /status.json")
        assert s["entries"] == 1 and s["added"]["complaint"] == 1 and s["max_entries"] == 5000000
        counters = {m["name"] for m in c.get("/counters.json")[1]["metrics"]}
        assert {"suppressed_recipients_total", "suppression_entries"} <= counters
        assert mta.stop() == 0

    # A restart keeps the list: frank is still refused.
    with OutpostD(extra_config=CONFIG, workdir=str(workdir)) as mta:
        assert refusal(mta, "frank@isp.example")[0] == 550
        assert "suppression list" in mta.log_text() and "1 entries" in mta.log_text()


def test_operators_add_list_and_remove_and_kill9_loses_nothing(tmp_path):
    workdir = tmp_path / "mta"
    workdir.mkdir()
    with OutpostD(extra_config=CONFIG, workdir=str(workdir)) as mta:
        c = MgmtClient(mta)
        # Admin only, reading too (127.0.0.3 is a monitor).
        status, body = c.get("/api/suppressions", source="127.0.0.3")
        assert status == 403 and "suppression list needs admin" in body["error"]
        assert c.post("/api/suppressions/add", {"address": "x@example.com"},
                      source="127.0.0.3")[0] == 403

        status, body = c.post("/api/suppressions/add", {"address": "Ann@Example.com"})
        assert status == 200 and body["action"] == "added" and body["address"] == "ann@example.com"
        assert c.post("/api/suppressions/add", {"address": "not-an-address"})[0] == 400
        assert c.post("/api/suppressions/add", {"address": "a@b.c", "kind": "x"})[0] == 400

        rc, out, err = ctl(mta, "suppress", "add", "bob@example.com")
        assert rc == 0, err
        assert out == "bob@example.com added: ok\n"
        rc, out, err = ctl(mta, "show", "suppressions")
        assert rc == 0, err
        assert "ann@example.com" in out and "bob@example.com" in out and "manual" in out
        assert "2 of 2 entries" in out
        rc, out, err = ctl(mta, "--json", "show", "suppressions", "BOB@example.com")
        assert rc == 0 and '"kind": "manual"' in out

        assert refusal(mta, "ann@example.com")[0] == 550
        rc, out, err = ctl(mta, "suppress", "remove", "ann@example.com")
        assert rc == 0 and out == "ann@example.com removed: ok\n", err
        assert refusal(mta, "ann@example.com")[0] == 250
        rc, out, err = ctl(mta, "suppress", "remove", "ann@example.com")
        assert rc == 1 and "not on the suppression list" in err

        # Paging: every entry once.
        for i in range(7):
            assert c.post("/api/suppressions/add", {"address": f"p{i}@example.com"})[0] == 200
        seen = []
        for offset in range(0, 8, 3):
            status, page = c.get("/api/suppressions", {"offset": offset, "limit": 3})
            assert status == 200 and page["total"] == 8
            seen += [e["address"] for e in page["entries"]]
        assert sorted(seen) == sorted(["bob@example.com"] + [f"p{i}@example.com" for i in range(7)])
        assert c.get("/api/suppressions", {"limit": 0})[0] == 400

        mta.kill9()  # every acknowledged change was synced

    with OutpostD(extra_config=CONFIG, workdir=str(workdir)) as mta:
        assert listed(mta, "bob@example.com")["kind"] == "manual"
        assert listed(mta, "p6@example.com") is not None
        assert listed(mta, "ann@example.com") is None
        assert refusal(mta, "bob@example.com")[0] == 550
        assert refusal(mta, "ann@example.com")[0] == 250


def test_without_suppression_list_nothing_is_refused(tmp_path):
    with OutpostD(extra_config=MGMT_CONFIG) as mta:
        c = MgmtClient(mta)
        status, body = c.get("/api/suppressions")
        assert status == 404 and "suppression-list no" in body["error"]
        assert c.get("/status.json")[1]["suppression"]["max_entries"] == 0
        assert refusal(mta, "frank@isp.example")[0] == 250
        assert not os.path.exists(os.path.join(mta.spool, "suppression.log"))


def test_a_synchronous_hard_bounce_is_listed_and_other_bounces_are_not(tmp_path):
    """A 550 5.1.1 from the receiving server (a b record, bad-mailbox) lists the recipient; a
    full mailbox (quota-issues) does not."""
    sim_config = ('<domain nouser.test>\n  bounce-ratio 1.0 "550 5.1.1 No such user"\n</domain>\n'
                  '<domain full.test>\n  bounce-ratio 1.0 "552 5.2.2 Mailbox full"\n</domain>\n'
                  "<domain *> accept </domain>\n")
    with IspSim(tmp_path / "sim", sim_config) as sim:
        route = f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n</domain>\n"
        with OutpostD(extra_config=CONFIG + route) as mta:
            assert send(mta, ["gone@nouser.test", "busy@full.test"]) == {}
            b = wait_records(mta, "b", 2)
            assert {r["bounceCat"] for r in b} == {"bad-mailbox", "quota-issues"}
            entry = wait_for(lambda: listed(mta, "gone@nouser.test"), timeout=10,
                             what="the hard bounce on the suppression list")
            assert entry["kind"] == "hard-bounce" and entry["expires"] is not None
            assert listed(mta, "busy@full.test") is None
            assert refusal(mta, "gone@nouser.test")[0] == 550
            assert refusal(mta, "busy@full.test")[0] == 250


def test_queued_mail_for_a_recipient_listed_since_is_not_sent(tmp_path):
    """Mail queued before its recipient was listed (held here by a paused job) is not sent when
    it comes due: a b record saying why, and the receiver never sees that recipient."""
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        route = f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n</domain>\n"
        with OutpostD(extra_config=CONFIG + route) as mta:
            c = MgmtClient(mta)
            assert c.post("/api/job/pause", {"job": "spring"})[0] == 200
            with smtplib.SMTP(mta.host, mta.port, timeout=10) as s:
                # From the null sender: no DSN to count at the receiver.
                s.sendmail("", ["late@isp.example", "fine@isp.example"],
                           "X-Job: spring\r\nSubject: hi\r\n\r\nhello\r\n")
            assert c.post("/api/suppressions/add", {"address": "late@isp.example"})[0] == 200
            assert c.post("/api/job/resume", {"job": "spring"})[0] == 200
            b = wait_records(mta, "b", 1)
            assert b[0]["rcpt"] == "late@isp.example"
            assert "is on the suppression list (manual)" in b[0]["dsnDiag"]
            d = wait_records(mta, "d", 1)
            assert d[0]["rcpt"] == "fine@isp.example"
            assert sim.stats()["totals"]["recipients_accepted"] == 1
