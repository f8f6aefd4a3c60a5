"""How a <domain> is delivered (issue #16): smtp-hosts, route DOMAIN, mx-connection-attempts,
ignore-8bitmime, type discard and max-rcpt-per-message, each against the real daemon with
outpost-isp-sim as the receiver and dnsmasq for MX records. Each test also has a domain without the
directive (or its effect is impossible without it), so it fails if the directive stops acting.
"""
import smtplib

from harness.delivery import inject, records, wait_records
from harness.dnsmasq import Dnsmasq
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD

DNS_RECORDS = [
    # backup.test's MX is the simulator (127.0.0.1); nothing else has an MX the tests use.
    "--mx-host=backup.test,mx.backup.test,10",
    "--host-record=mx.backup.test,127.0.0.1",
    # pref.test: mx1 (127.0.0.2, nothing listens) preferred over mx2 (127.0.0.1, the simulator).
    "--mx-host=pref.test,mx1.pref.test,10",
    "--mx-host=pref.test,mx2.pref.test,20",
    "--mx-host=once.test,mx1.pref.test,10",
    "--mx-host=once.test,mx2.pref.test,20",
    "--host-record=mx1.pref.test,127.0.0.2",
    "--host-record=mx2.pref.test,127.0.0.1",
]


def by_rcpt(rows):
    return {r["rcpt"]: r for r in rows}


def test_smtp_hosts_and_route_domain(tmp_path):
    """smtp-hosts with a fixed address (no DNS for the recipient domain), smtp-hosts lookup-mx and
    route DOMAIN (another domain's MX): all reach the simulator; the recipients' own domains have
    no DNS records at all, so without the directives they could not be delivered."""
    with Dnsmasq(tmp_path, DNS_RECORDS) as dns, \
            IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        config = (f"dns-server {dns.server}\n"
                  f"<domain fixed.test>\n  smtp-hosts [127.0.0.1]:{sim.port}\n</domain>\n"
                  "<domain viamx.test>\n  smtp-hosts lookup-mx:backup.test\n</domain>\n"
                  "<domain routed.test>\n  route backup.test\n</domain>\n"
                  f"<domain *>\n  default-smtp-port {sim.port}\n  retry-after 1h\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [["a@fixed.test", "b@viamx.test", "c@routed.test"]])
            d = by_rcpt(wait_records(mta, "d", 3))
            assert d["a@fixed.test"]["dsnMta"] == "127.0.0.1 (127.0.0.1)"
            assert d["b@viamx.test"]["dsnMta"] == "mx.backup.test (127.0.0.1)"
            assert d["c@routed.test"]["dsnMta"] == "mx.backup.test (127.0.0.1)"
            assert not records(mta, "b")
            assert sim.stats()["totals"]["recipients_accepted"] == 3


def test_mx_connection_attempts(tmp_path):
    """once.test may try one MX address per connection attempt: its refused preferred MX defers
    the queue (tq); pref.test, with the same MX hosts, falls over to the second MX."""
    with Dnsmasq(tmp_path, DNS_RECORDS) as dns, \
            IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        config = (f"dns-server {dns.server}\n"
                  "<domain once.test>\n  mx-connection-attempts 1\n</domain>\n"
                  f"<domain *>\n  default-smtp-port {sim.port}\n  retry-after 1h\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [["a@once.test"], ["b@pref.test"]])
            d = wait_records(mta, "d", 1)
            tq = wait_records(mta, "tq", 1)
            assert d[0]["rcpt"] == "b@pref.test"
            assert d[0]["dsnMta"] == "mx2.pref.test (127.0.0.1)"
            assert all(r["queue"].startswith("once.test/") for r in tq)
            assert "127.0.0.2" in tq[0]["dsnDiag"]
            assert sim.stats()["totals"]["recipients_accepted"] == 1


EIGHT_BIT = ("From: news@app.test\r\nTo: {to}\r\nSubject: 8bit\r\nMessage-ID: <{tag}@app.test>\r\n"
             "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n")


def test_ignore_8bitmime_converts_to_7bit(tmp_path):
    maildir = tmp_path / "maildir"
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim:
        config = (f"<domain seven.test>\n  route [127.0.0.1]:{sim.port}\n  ignore-8bitmime yes\n"
                  f"</domain>\n<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n"
                  "</domain>\n")
        with OutpostD(extra_config=config) as mta:
            with smtplib.SMTP(mta.host, mta.port, timeout=30) as client:
                for to, tag in (("a@seven.test", "seven"), ("b@eight.test", "eight")):
                    client.sendmail("news@app.test", [to],
                                    EIGHT_BIT.format(to=to, tag=tag).encode())
            d = by_rcpt(wait_records(mta, "d", 2))
            assert "8BITMIME" not in d["a@seven.test"]["dlvEsmtpAvailable"]
            assert "8BITMIME" in d["b@eight.test"]["dlvEsmtpAvailable"]
        got = {}
        for f in (maildir / "new").iterdir():
            raw = f.read_bytes()
            got["seven" if b"<seven@" in raw else "eight"] = raw
        assert b"quoted-printable" in got["seven"].lower()
        assert all(byte < 128 for byte in got["seven"])
        assert "Grüße".encode() in got["eight"]


def test_type_discard_opens_no_connection(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        config = ("<domain void.test>\n  type discard\n</domain>\n"
                  f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [["a@void.test", "b@void.test", "c@real.test"]])
            d = by_rcpt(wait_records(mta, "d", 3))
            for rcpt in ("a@void.test", "b@void.test"):
                assert d[rcpt]["dsnMta"] == "discard"
                assert "discarded (type discard)" in d[rcpt]["dsnDiag"]
            assert d["c@real.test"]["dsnMta"].endswith("(127.0.0.1)")
            stats = sim.stats()
            assert stats["totals"]["recipients_accepted"] == 1
            assert stats["totals"]["connections_total"] == 1


def test_max_rcpt_per_message_splits_a_message(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        config = ("<domain split.test>\n  max-rcpt-per-message 2\n</domain>\n"
                  f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [[f"u{i}@split.test" for i in range(5)]])
            wait_records(mta, "d", 5)
            assert sim.stats()["totals"]["messages"] == 3
            assert not records(mta, "b")
