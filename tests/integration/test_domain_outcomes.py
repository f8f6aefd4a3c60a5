"""What replies and failures mean, per <domain> (issue #16): each directive against the real
daemon, a scripted receiver (outpost-isp-sim) and, for DNS, dnsmasq. Every test has a domain with
the directive and one without it in the same run, so each fails if the directive stops acting.

* bounce-upon-no-mx: a domain without MX records bounces instead of going to its A record (or,
  without one, being retried).
* bounce-upon-5xx-greeting: a 554 greeting bounces (the default); with no it is retried.
* smtp-553-means-invalid-mailbox: a bare 553 at RCPT is bad-mailbox; with no it is `other`.
* bounce-upon-transfer-failure: a connection dropped mid-DATA bounces instead of being retried.
* assume-delivery-upon-data-termination-timeout: no reply to the final dot counts as delivered.
* max-errors-per-connection: the connection is closed after N refused recipients.
* smtp-421-means-mx-unavailable: a 421 at RCPT sends the recipient at once to the next MX.
Messages come from the null sender, so no DSN adds records or connections to what is counted.
"""
from harness.delivery import inject, records, wait_records
from harness.dnsmasq import Dnsmasq
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for


def routed(sim, domains_extra, star_extra=""):
    """<domain> sections routed to `sim`: {domain: extra lines} and <domain *>."""
    out = "".join(f"<domain {d}>\n  route [127.0.0.1]:{sim.port}\n{extra}</domain>\n"
                  for d, extra in domains_extra.items())
    return out + f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n{star_extra}</domain>\n"


def by_rcpt(rows):
    return {r["rcpt"]: r for r in rows}


def test_bounce_upon_no_mx(tmp_path):
    dns_records = [
        "--host-record=strict.test,127.0.0.1",   # A only: the implicit MX
        "--host-record=loose.test,127.0.0.1",
        "--txt-record=bare.test,nothing",        # exists: no MX, no A
        "--txt-record=loose-bare.test,nothing",
    ]
    with Dnsmasq(tmp_path, dns_records) as dns, \
            IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        config = (f"dns-server {dns.server}\n"
                  "<domain strict.test>\n  bounce-upon-no-mx yes\n</domain>\n"
                  "<domain bare.test>\n  bounce-upon-no-mx yes\n</domain>\n"
                  f"<domain *>\n  default-smtp-port {sim.port}\n  retry-after 1h\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "", [["a@strict.test", "b@loose.test", "c@bare.test",
                                           "d@loose-bare.test"]])
            b = by_rcpt(wait_records(mta, "b", 2))
            d = by_rcpt(wait_records(mta, "d", 1))
            wait_records(mta, "tq", 1)
            assert set(b) == {"a@strict.test", "c@bare.test"}
            for r in b.values():
                assert r["bounceCat"] == "bad-domain"
                assert "no MX record" in r["dsnDiag"]
            assert set(d) == {"b@loose.test"}
            assert sim.stats()["totals"]["recipients_accepted"] == 1
            # Without the directive a domain with neither MX nor A is retried, not bounced.
            assert "d@loose-bare.test" not in by_rcpt(records(mta, "b"))


def test_bounce_upon_5xx_greeting(tmp_path):
    sim_config = 'greeting "554 5.7.1 No SMTP service here"\n<domain *> accept </domain>\n'
    with IspSim(tmp_path / "sim", sim_config) as sim:
        config = routed(sim, {"tolerant.test": "  bounce-upon-5xx-greeting no\n  retry-after 1h\n"})
        with OutpostD(extra_config=config) as mta:
            inject(mta, "", [["a@strict.test"], ["b@tolerant.test"]])
            b = wait_records(mta, "b", 1)
            tq = wait_records(mta, "tq", 1)
            assert b[0]["rcpt"] == "a@strict.test"
            assert b[0]["bounceCat"] == "policy-related"
            assert "No SMTP service here" in b[0]["dsnDiag"]
            assert all(r["queue"].startswith("tolerant.test/") for r in tq)
            assert len(records(mta, "b")) == 1


def test_smtp_553_means_invalid_mailbox(tmp_path):
    sim_config = '<domain *>\n  bounce-ratio 1.0 "553 sorry, no can do"\n</domain>\n'
    with IspSim(tmp_path / "sim", sim_config) as sim:
        config = routed(sim, {"plain.test": "  smtp-553-means-invalid-mailbox no\n"})
        with OutpostD(extra_config=config) as mta:
            inject(mta, "", [["a@mailbox.test", "b@plain.test"]])
            b = by_rcpt(wait_records(mta, "b", 2))
            assert b["a@mailbox.test"]["bounceCat"] == "bad-mailbox"
            assert b["b@plain.test"]["bounceCat"] == "other"


def test_bounce_upon_transfer_failure(tmp_path):
    sim_config = "<domain *>\n  drop-mid-data-ratio 1.0\n</domain>\n"
    with IspSim(tmp_path / "sim", sim_config) as sim:
        config = routed(sim, {"nodup.test": "  bounce-upon-transfer-failure yes\n"})
        with OutpostD(extra_config=config) as mta:
            inject(mta, "", [["a@nodup.test"], ["b@retry.test"]])
            b = wait_records(mta, "b", 1)
            t = wait_records(mta, "t", 1)
            assert b[0]["rcpt"] == "a@nodup.test"
            assert b[0]["bounceCat"] == "bad-connection"
            assert b[0]["dsnStatus"].startswith("5.4.2") or b[0]["dsnStatus"].startswith("4.4.2")
            assert [r["rcpt"] for r in t] == ["b@retry.test"]
            assert sim.stats()["totals"]["dropped_mid_data"] == 2


def test_assume_delivery_upon_data_termination_timeout(tmp_path):
    sim_config = "<domain *>\n  silent-after-data-ratio 1.0\n</domain>\n"
    with IspSim(tmp_path / "sim", sim_config) as sim:
        config = routed(sim, {"assume.test": "  assume-delivery-upon-data-termination-timeout yes\n"},
                        star_extra="  smtp-data-termination-timeout 1s\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "", [["a@assume.test"], ["b@retry.test"]])
            d = wait_records(mta, "d", 1)
            t = wait_records(mta, "t", 1)
            assert d[0]["rcpt"] == "a@assume.test"
            assert "final dot" in d[0]["dsnDiag"]
            assert [r["rcpt"] for r in t] == ["b@retry.test"]


def test_max_errors_per_connection(tmp_path):
    sim_config = '<domain *>\n  bounce-ratio 1.0 "550 5.1.1 no such user"\n</domain>\n'
    with IspSim(tmp_path / "sim", sim_config) as sim:
        config = routed(sim, {}, star_extra=("  max-errors-per-connection 2\n  max-smtp-out 1\n"
                                             "  max-rcpt-per-transaction 1\n"))
        with OutpostD(extra_config=config) as mta:
            inject(mta, "", [[f"u{i}@errors.test" for i in range(6)]])
            wait_records(mta, "b", 6)
            # One recipient per transaction, two refusals per connection: three connections
            # (one, without the directive).
            wait_for(lambda: sim.stats()["totals"]["connections_total"] >= 3, what="3 connections")
            assert sim.stats()["totals"]["connections_total"] == 3


def test_smtp_421_means_mx_unavailable(tmp_path):
    """Both domains have MX 127.0.0.1 (says 421 at RCPT) preferred over 127.0.0.6 (accepts)."""
    busy = '<domain *>\n  defer-ratio 1.0 "421 4.7.0 Try again later"\n</domain>\n'
    with IspSim(tmp_path / "busy", busy) as first:
        second_config = (f"listen 127.0.0.6:{first.port}\nstats-listen 127.0.0.1:0\n"
                         "<domain *> accept </domain>\n")
        with IspSim(tmp_path / "ok", second_config) as second:
            dns_records = []
            for dom in ("flip.test", "stay.test"):
                dns_records += [f"--mx-host={dom},mx1.{dom},10", f"--mx-host={dom},mx2.{dom},20",
                                f"--host-record=mx1.{dom},127.0.0.1",
                                f"--host-record=mx2.{dom},127.0.0.6"]
            with Dnsmasq(tmp_path, dns_records) as dns:
                config = (f"dns-server {dns.server}\n"
                          "<domain flip.test>\n  smtp-421-means-mx-unavailable yes\n</domain>\n"
                          f"<domain *>\n  default-smtp-port {first.port}\n  retry-after 1h\n"
                          "</domain>\n")
                with OutpostD(extra_config=config) as mta:
                    inject(mta, "", [["a@flip.test"], ["b@stay.test"]])
                    d = wait_records(mta, "d", 1)
                    t = wait_records(mta, "t", 2)
                    assert d[0]["rcpt"] == "a@flip.test"
                    assert d[0]["dsnMta"] == "mx2.flip.test (127.0.0.6)"
                    assert {r["rcpt"] for r in t} == {"a@flip.test", "b@stay.test"}
                    assert second.stats()["totals"]["recipients_accepted"] == 1
                    # Without the directive the 421'd recipient waits its retry interval.
                    assert not [r for r in records(mta, "d") if r["rcpt"] == "b@stay.test"]
