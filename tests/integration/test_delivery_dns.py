"""Delivery through real DNS: outpostd asks dnsmasq for MX records and delivers to outpost-isp-sim.

* MX preference: the first MX (127.0.0.2, where nothing listens) refuses, the next one is used.
* Implicit MX: a domain without MX records is its own mail host (its A record).
* Fan-out of one message to several domains; a route override skips DNS.
* mx-rollup: two domains with the same MX hosts share one queue (and its max-smtp-out), a third
  with different hosts keeps its own queue.
Each test asserts on the simulator's stats and on the accounting file.
"""
from harness.delivery import inject, records, wait_records
from harness.dnsmasq import Dnsmasq
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD

DNS_RECORDS = [
    # pref.test: mx1 (127.0.0.2, refused) preferred over mx2 (127.0.0.1, the simulator).
    "--mx-host=pref.test,mx2.pref.test,20",
    "--mx-host=pref.test,mx1.pref.test,10",
    "--host-record=mx1.pref.test,127.0.0.2",
    "--host-record=mx2.pref.test,127.0.0.1",
    # implicit.test: no MX, an A record.
    "--host-record=implicit.test,127.0.0.1",
    # a.test and b.test share their MX hosts; c.test has another one.
    "--mx-host=a.test,mx1.shared.test,10",
    "--mx-host=a.test,mx2.shared.test,20",
    "--mx-host=b.test,mx2.shared.test,5",
    "--mx-host=b.test,mx1.shared.test,50",
    "--mx-host=c.test,mx.other.test,10",
    "--host-record=mx1.shared.test,127.0.0.1",
    "--host-record=mx2.shared.test,127.0.0.1",
    "--host-record=mx.other.test,127.0.0.1",
]


def dns_config(dns, sim, domain_extra=""):
    return (f"dns-server {dns.server}\n"
            f"<domain *>\n  default-smtp-port {sim.port}\n  retry-after 1h\n{domain_extra}"
            f"</domain>\n")


def test_mx_preference_fallback_implicit_mx_and_fan_out(tmp_path):
    with Dnsmasq(tmp_path, DNS_RECORDS) as dns, \
            IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        with OutpostD(extra_config=dns_config(dns, sim)) as mta:
            inject(mta, "news@app.test", [["ann@pref.test", "bob@implicit.test", "cy@pref.test"]])
            d = wait_records(mta, "d", 3)
            by_rcpt = {r["rcpt"]: r for r in d}
            # The preferred MX refused: the delivery went to the second one.
            assert by_rcpt["ann@pref.test"]["dsnMta"] == "mx2.pref.test (127.0.0.1)"
            assert by_rcpt["ann@pref.test"]["queue"] == "pref.test/{default}"
            # No MX record: the domain's own address.
            assert by_rcpt["bob@implicit.test"]["dsnMta"] == "implicit.test (127.0.0.1)"
            assert by_rcpt["bob@implicit.test"]["queue"] == "implicit.test/{default}"
            assert not records(mta, "b")
            stats = sim.stats()
            # Fan-out: one transaction per destination queue.
            assert stats["totals"]["messages"] == 2
            assert stats["totals"]["recipients_accepted"] == 3
            assert stats["domains"]["pref.test"]["recipients_accepted"] == 2


def test_route_override_skips_dns(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        # No dns-server in this config: the harness pins DNS to a port where nothing answers, so
        # only the route can make this delivery work.
        config = (f"<domain routed.test>\n  route [127.0.0.1]:{sim.port}\n</domain>\n"
                  f"<domain *>\n  retry-after 1h\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [["ann@routed.test"]])
            d = wait_records(mta, "d", 1)
            assert d[0]["dlvDestinationIp"] == "127.0.0.1"
            assert sim.stats()["totals"]["recipients_accepted"] == 1


def test_mx_rollup_shares_queue_and_limits_by_mx_hosts(tmp_path):
    sim_config = "<domain *>\n  reply-delay 20ms\n</domain>\n"
    with Dnsmasq(tmp_path, DNS_RECORDS) as dns, IspSim(tmp_path / "sim", sim_config) as sim:
        extra = "  mx-rollup a.test\n  max-smtp-out 1\n  max-rcpt-per-transaction 1\n"
        with OutpostD(extra_config=dns_config(dns, sim, extra)) as mta:
            n = 12
            inject(mta, "news@app.test",
                   [[f"x{i}@a.test", f"y{i}@b.test", f"z{i}@c.test"] for i in range(n)])
            d = wait_records(mta, "d", 3 * n, timeout=60)
            queues = {}
            for r in d:
                queues.setdefault(r["rcpt"].split("@")[1], set()).add(r["queue"])
            assert queues["a.test"] == {"a.test/{default}"}
            assert queues["b.test"] == {"a.test/{default}"}  # same MX host set: rolled up
            assert queues["c.test"] == {"c.test/{default}"}  # other MX: its own queue
            stats = sim.stats()
            assert stats["totals"]["recipients_accepted"] == 3 * n
            # max-smtp-out 1 per queue and two queues: never more than 2 connections at once
            # (24 rolled-up transactions and 12 others, each held 20 ms per reply by the sim).
            assert stats["clients"]["127.0.0.1"]["connections_peak"] <= 2
            assert "b.test: MX hosts match mx-rollup a.test" in mta.log_text()
