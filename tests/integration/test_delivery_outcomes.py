"""Outcomes from the receiving side: bounce categories of scripted 5xx replies, virtual MTA
source-address binding and pool rotation, and no loss when the simulator drops connections in the
middle of DATA."""
import pytest

from harness.delivery import inject, maildir_messages, records, wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for

CATEGORIES = [
    # (label, domain, scripted reply, expected bounceCat, expected dsnStatus prefix)
    ("bad_mailbox", "nouser.test", "550 5.1.1 The email account that you tried to reach does not exist",
     "bad-mailbox", "5.1.1"),
    ("quota", "full.test", "552 5.2.2 Mailbox full", "quota-issues", "5.2.2"),
    ("spam", "spam.test", "554 5.7.1 Message rejected as spam", "spam-related", "5.7.1"),
    ("policy", "policy.test", "550 5.7.1 Delivery not authorized", "policy-related", "5.7.1"),
    ("bad_domain", "nodomain.test", "550 5.1.2 Host unknown", "bad-domain", "5.1.2"),
    ("relaying", "relay.test", "554 5.7.1 Relay access denied", "relaying-issues", "5.7.1"),
]


def test_bounce_categories_of_scripted_replies(tmp_path):
    sim_config = "".join(f'<domain {dom}>\n  bounce-ratio 1.0 "{reply}"\n</domain>\n'
                         for _, dom, reply, _, _ in CATEGORIES) + "<domain *> accept </domain>\n"
    with IspSim(tmp_path / "sim", sim_config) as sim:
        config = f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n</domain>\n"
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [[f"u@{c[1]}" for c in CATEGORIES] + ["ok@fine.test"]])
            b = wait_records(mta, "b", len(CATEGORIES))
            wait_records(mta, "d", 1)
            by_domain = {r["rcpt"].split("@")[1]: r for r in b}
            for label, dom, reply, category, status in CATEGORIES:
                r = by_domain[dom]
                assert r["bounceCat"] == category, label
                assert r["dsnStatus"].startswith(status), label
                assert r["dsnAction"] == "failed", label
                assert reply.split(" ", 2)[2] in r["dsnDiag"], label
            assert sim.stats()["totals"]["recipients_bounced"] == len(CATEGORIES)
            assert not records(mta, "t")


VMTAS = ("<virtual-mta v2>\n  smtp-source-host 127.0.0.2 v2.app.test\n</virtual-mta>\n"
         "<virtual-mta v3>\n  smtp-source-host 127.0.0.3 v3.app.test\n</virtual-mta>\n"
         "<virtual-mta-pool pool23>\n  virtual-mta v2\n  virtual-mta v3\n</virtual-mta-pool>\n")


def test_vmta_binds_its_source_address(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        config = VMTAS + f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n</domain>\n"
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [["ann@bind.test"], ["bob@bind.test"]],
                   headers="X-Virtual-MTA: v2\r\n")
            d = wait_records(mta, "d", 2)
            assert set(sim.stats()["clients"]) == {"127.0.0.2"}
            for r in d:
                assert r["dlvSourceIp"] == "127.0.0.2"
                assert r["vmta"] == "v2"
                assert r["queue"] == "bind.test/v2"


def test_vmta_pool_rotates_source_addresses(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        config = VMTAS + f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n</domain>\n"
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [[f"r{i}@pool.test"] for i in range(6)],
                   headers="X-Virtual-MTA: pool23\r\n")
            d = wait_records(mta, "d", 6)
            clients = sim.stats()["clients"]
            assert set(clients) == {"127.0.0.2", "127.0.0.3"}
            assert clients["127.0.0.2"]["messages"] == 3
            assert clients["127.0.0.3"]["messages"] == 3
            for r in d:
                assert r["vmtaPool"] == "pool23"
                assert (r["vmta"], r["dlvSourceIp"]) in {("v2", "127.0.0.2"), ("v3", "127.0.0.3")}


def test_nothing_lost_when_connections_drop_mid_data(tmp_path):
    sim_config = "<domain drop.test>\n  drop-mid-data-ratio 0.3\n</domain>\n<domain *> accept </domain>\n"
    with IspSim(tmp_path / "sim", sim_config) as sim:
        config = (f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1s\n"
                  f"  max-smtp-out 4\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            n = 60
            ids = inject(mta, "news@app.test", [[f"r{i}@drop.test"] for i in range(n)],
                         mid_prefix="drop")
            wait_records(mta, "d", n, timeout=60)
            stats = sim.stats()
            assert stats["totals"]["dropped_mid_data"] >= n * 3 // 10
            assert set(ids) <= set(stats["message_ids"])
            assert len(records(mta, "t")) == stats["totals"]["dropped_mid_data"]
            assert not records(mta, "b")
            assert mta.stop() == 0
            _, summary = mta.list_spool()
            assert summary["messages"] == 0


def _raw_messages(maildir):
    new = maildir / "new"
    return [f.read_bytes().decode("ascii") for f in sorted(new.iterdir())] if new.is_dir() else []


@pytest.mark.parametrize("sender", ["news@app.test", ""], ids=["sender_gets_dsn", "null_sender_none"])
def test_rcpt_refusal_sends_one_dsn_to_the_sender(tmp_path, sender):
    """A 550 at RCPT bounces the recipient (b record) and, unless the sender is <>, sends one DSN
    listing it with its 5.x.x status and the real reply to the sender's domain (another sim, with a
    maildir). The accepted recipient of the same message is not in the DSN."""
    isp = ('<domain refuse.test>\n  bounce-ratio 1.0 "550 5.1.1 The email account that you tried '
           'to reach does not exist"\n</domain>\n<domain *> accept </domain>\n')
    home = tmp_path / "home-maildir"
    with IspSim(tmp_path / "isp", isp) as sim, \
            IspSim(tmp_path / "home", "<domain *> accept </domain>\n", maildir=home) as home_sim:
        config = (f"<domain app.test>\n  route [127.0.0.1]:{home_sim.port}\n</domain>\n"
                  f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, sender, [["gone@refuse.test", "ok@fine.test"]], mid_prefix="orig")
            b = wait_records(mta, "b", 1)
            assert b[0]["rcpt"] == "gone@refuse.test"
            assert b[0]["bounceCat"] == "bad-mailbox"
            assert b[0]["dsnStatus"].startswith("5.1.1")
            if not sender:
                # The accepted recipient is delivered; the null sender gets nothing.
                wait_records(mta, "d", 1, where=lambda r: r["rcpt"] == "ok@fine.test")
                assert mta.stop() == 0
                assert maildir_messages(home) == []
                assert home_sim.stats()["totals"]["messages"] == 0
                assert len(records(mta, "b")) == 1
                _, summary = mta.list_spool()
                assert summary["messages"] == 0
                return
            dsn_d = wait_records(mta, "d", 1, where=lambda r: r["rcpt"] == sender)
            assert dsn_d[0]["orig"] == ""
            assert dsn_d[0]["queue"].startswith("app.test/")
            msgs = wait_for(lambda: maildir_messages(home), what="DSN in the sender's maildir")
            assert len(msgs) == 1
            dsn = msgs[0]
            assert dsn["To"] == f"<{sender}>"
            assert dsn.get_content_type() == "multipart/report"
            assert dsn.get_param("report-type") == "delivery-status"
            raw = _raw_messages(home)[0]
            status = raw.split("message/delivery-status", 1)[1]
            assert ("Final-Recipient: rfc822; gone@refuse.test\r\nAction: failed\r\n"
                    "Status: 5.1.1\r\n") in status
            assert ("Diagnostic-Code: smtp; 550 5.1.1 The email account that you tried to reach "
                    "does not exist\r\n") in status
            assert "ok@fine.test" not in status.split("text/rfc822-headers")[0]
            assert "Message-ID: <orig-0@app.test>" in raw.split("text/rfc822-headers", 1)[1]
            assert mta.stop() == 0
            assert len(records(mta, "b")) == 1
            _, summary = mta.list_spool()
            assert summary["messages"] == 0
