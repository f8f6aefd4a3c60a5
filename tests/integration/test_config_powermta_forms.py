"""PowerMTA forms from real configurations (issue #16) against the real daemon, each with a control
in the same run so the test fails if the form stops acting:

* <domain a b c>: one section for several domains routes each of them; a domain it does not name
  falls to <domain *>. <domain *.S> and <domain [*.]S>: subdomains (and S itself for [*.]).
* relay-domain [*.]S: mail for S and its subdomains is taken from a client that may not relay.
* <bounce-category-patterns> with a category of the operator's own: the b record's bounceCat
  carries it, and it is not a hard bounce (the suppression list does not take the recipient,
  while a bad-mailbox one in the same run is taken).
* smtp-server-tls-allow-tlsv1.x and http-redirect-to-https: the values Outpost accepts are what
  the server does (TLS 1.1 refused, 1.2 and 1.3 negotiated).
"""
import smtplib
import ssl

import pytest

from harness.delivery import inject, wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for


def by_rcpt(rows):
    return {r["rcpt"]: r for r in rows}


def test_domain_header_with_several_names_and_wildcards(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        route = f"  route [127.0.0.1]:{sim.port}\n"
        config = (f"<domain a.test b.test>\n{route}</domain>\n"
                  f"<domain *.w.test>\n{route}</domain>\n"
                  f"<domain [*.]v.test>\n{route}</domain>\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "", [["x@a.test", "x@b.test"], ["x@c.test"], ["x@sub.w.test"],
                             ["x@w.test"], ["x@v.test", "x@deep.sub.v.test"]])
            delivered = set(by_rcpt(wait_records(mta, "d", 5)))
            assert delivered == {"x@a.test", "x@b.test", "x@sub.w.test", "x@v.test",
                                 "x@deep.sub.v.test"}
            # Not named by any section: <domain *>, the harness's refusing route.
            deferred = {r["queue"].split("/")[0] for r in wait_records(mta, "tq", 2)}
            assert deferred == {"c.test", "w.test"}


def _send_from_outside(mta, recipient):
    """From 127.0.0.2, which the harness's <source 0/0> does not let relay; refused recipients."""
    with smtplib.SMTP(mta.host, mta.port, timeout=10, source_address=("127.0.0.2", 0)) as c:
        try:
            return c.sendmail("", [recipient], "Subject: x\r\n\r\nx\r\n")
        except smtplib.SMTPRecipientsRefused as e:
            return e.recipients


def test_relay_domain_subdomain_forms():
    config = "relay-domain [*.]bounce.test\nrelay-domain *.fbl.test\n"
    with OutpostD(extra_config=config) as mta:
        for taken in ("b@bounce.test", "b@x.bounce.test", "f@x.fbl.test"):
            assert _send_from_outside(mta, taken) == {}, taken
        for refused in ("f@fbl.test", "b@notbounce.test", "someone@example.com"):
            assert _send_from_outside(mta, refused)[refused][0] == 550, refused


def test_operators_own_bounce_category(tmp_path):
    sim_config = ('<domain inactive.test>\n  bounce-ratio 1.0 "550 5.2.1 Account Inactive"\n'
                  '</domain>\n<domain gone.test>\n  bounce-ratio 1.0 "550 5.1.1 no such user"\n'
                  "</domain>\n")
    with IspSim(tmp_path / "sim", sim_config) as sim:
        config = ("suppression-list yes\n<bounce-category-patterns>\n"
                  "  /Account Inactive/ invalid-mailbox\n</bounce-category-patterns>\n"
                  f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "", [["x@inactive.test"], ["y@gone.test"]])
            b = by_rcpt(wait_records(mta, "b", 2))
            assert b["x@inactive.test"]["bounceCat"] == "invalid-mailbox"
            assert b["y@gone.test"]["bounceCat"] == "bad-mailbox"

            def rcpt_code(recipient):
                with smtplib.SMTP(mta.host, mta.port, timeout=10) as c:
                    c.ehlo()
                    c.mail("news@sender.example")
                    return c.rcpt(recipient)[0]
            # The hard bounce is suppressed (the control); the operator's category is not.
            wait_for(lambda: rcpt_code("y@gone.test") == 550, what="bad-mailbox suppressed")
            assert rcpt_code("x@inactive.test") == 250


def _starttls(mta, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = version
    ctx.maximum_version = version
    with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
        client.starttls(context=ctx)
        return client.sock.version()


def test_tls_version_directives_say_what_the_server_does():
    config = ("smtp-server-tls-allow-tlsv1 no\nsmtp-server-tls-allow-tlsv1.1 false\n"
              "smtp-server-tls-allow-tlsv1.2 true\nsmtp-server-tls-allow-tlsv1.3 yes\n"
              "http-redirect-to-https false\n")
    with OutpostD(extra_config=config, tls=True) as mta:
        assert _starttls(mta, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
        assert _starttls(mta, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
        with pytest.raises((ssl.SSLError, smtplib.SMTPServerDisconnected, OSError)):
            _starttls(mta, ssl.TLSVersion.TLSv1_1)
