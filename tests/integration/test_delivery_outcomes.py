"""Outcomes from the receiving side: bounce categories of scripted 5xx replies, virtual MTA
source-address binding and pool rotation, and no loss when the simulator drops connections in the
middle of DATA."""
import pytest

from harness.delivery import inject, records, wait_records
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
