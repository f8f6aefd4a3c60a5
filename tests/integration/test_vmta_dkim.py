"""A virtual MTA's own DKIM key (`domain-key` in <virtual-mta>, issue #16): mail through that
virtual MTA is signed with its key, mail through others with the global one, and a <domain>
nested in a virtual MTA decides `dkim-sign` for its mail only. dkimpy verifies what the ISP
simulator received (keys made with openssl in the test's temp dir; DNS answered from them).
"""
import smtplib

import pytest

from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for

dkim = pytest.importorskip("dkim", reason="python3-dkim (dkimpy) is not installed")
pytest.importorskip("nacl", reason="python3-nacl (Ed25519 for dkimpy) is not installed")

from test_dkim_delivery import _dns_record, _genkey, _received, _tag, _verify  # noqa: E402


def _message(vmta, mid):
    return (f"X-Virtual-MTA: {vmta}\r\nFrom: News <news@brand.example>\r\nTo: u@dest.test\r\n"
            f"Subject: through {vmta}\r\nMessage-ID: <{mid}>\r\n\r\nbody\r\n")


def test_vmta_key_overrides_global_key_for_its_mail_only(tmp_path):
    _genkey(tmp_path / "global.pem", "RSA")
    _genkey(tmp_path / "own.pem", "ed25519")
    records = {b"g1._domainkey.brand.example.": _dns_record(tmp_path / "global.pem"),
               b"v1._domainkey.brand.example.": _dns_record(tmp_path / "own.pem")}
    maildir = tmp_path / "maildir"
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim:
        config = (f"domain-key g1,brand.example,{tmp_path / 'global.pem'}\n"
                  "<virtual-mta own>\n  smtp-source-host 127.0.0.2 own.brand.example\n"
                  f"  domain-key v1,brand.example,{tmp_path / 'own.pem'}\n</virtual-mta>\n"
                  "<virtual-mta shared>\n  smtp-source-host 127.0.0.3 shared.brand.example\n"
                  "</virtual-mta>\n"
                  "<virtual-mta quiet>\n  smtp-source-host 127.0.0.4 quiet.brand.example\n"
                  "  <domain *>\n    dkim-sign no\n  </domain>\n</virtual-mta>\n"
                  f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  dkim-sign yes\n</domain>\n")
        with OutpostD(extra_config=config, workdir=str(tmp_path)) as mta:
            with smtplib.SMTP(mta.host, mta.port, timeout=30) as client:
                for vmta in ("own", "shared", "quiet"):
                    assert client.sendmail("news@brand.example", ["u@dest.test"],
                                           _message(vmta, f"{vmta}@test")) == {}
            got = wait_for(lambda: (lambda r: r if len(r) >= 3 else None)(_received(maildir)),
                           timeout=60, what="3 messages at the sim")
            own, shared, quiet = got["own@test"], got["shared@test"], got["quiet@test"]
            assert (_tag(own, "s"), _tag(own, "a")) == ("v1", "ed25519-sha256")
            assert _verify(own, records)
            assert (_tag(shared, "s"), _tag(shared, "a")) == ("g1", "rsa-sha256")
            assert _verify(shared, records)
            # quiet's own <domain *> turns signing off for its mail; the global one says yes.
            assert b"DKIM-Signature:" not in quiet
            assert mta.stop() == 0


def _from(domain, mid, vmta):
    return (f"X-Virtual-MTA: {vmta}\r\nFrom: News <news@{domain}>\r\nTo: u@dest.test\r\n"
            f"Subject: from {domain}\r\nMessage-ID: <{mid}>\r\n\r\nbody\r\n")


def test_wildcard_domain_key_signs_any_from_domain(tmp_path):
    """`domain-key dkim,*,FILE` (PowerMTA's form, in a virtual MTA as real configurations write
    it): mail from any From: domain through that virtual MTA is signed d=that domain, s=dkim; a
    domain with a named global key through another virtual MTA keeps its own key."""
    _genkey(tmp_path / "any.pem", "RSA")
    _genkey(tmp_path / "named.pem", "ed25519")
    records = {b"dkim._domainkey.one.example.": _dns_record(tmp_path / "any.pem"),
               b"dkim._domainkey.two.example.": _dns_record(tmp_path / "any.pem"),
               b"n1._domainkey.two.example.": _dns_record(tmp_path / "named.pem")}
    maildir = tmp_path / "maildir"
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim:
        config = (f"domain-key n1,two.example,{tmp_path / 'named.pem'}\n"
                  "<virtual-mta star>\n  smtp-source-host 127.0.0.2 star.example\n"
                  f"  domain-key dkim,*,{tmp_path / 'any.pem'}\n</virtual-mta>\n"
                  "<virtual-mta plain>\n  smtp-source-host 127.0.0.3 plain.example\n"
                  "</virtual-mta>\n"
                  f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  dkim-sign yes\n</domain>\n")
        with OutpostD(extra_config=config, workdir=str(tmp_path)) as mta:
            with smtplib.SMTP(mta.host, mta.port, timeout=30) as client:
                for domain, mid, vmta in (("one.example", "one@test", "star"),
                                          ("two.example", "two@test", "star"),
                                          ("two.example", "named@test", "plain"),
                                          ("three.example", "none@test", "plain")):
                    assert client.sendmail(f"news@{domain}", ["u@dest.test"],
                                           _from(domain, mid, vmta)) == {}
            got = wait_for(lambda: (lambda r: r if len(r) >= 4 else None)(_received(maildir)),
                           timeout=60, what="4 messages at the sim")
            for mid, d, s in (("one@test", "one.example", "dkim"),
                              ("two@test", "two.example", "dkim"),
                              ("named@test", "two.example", "n1")):
                assert (_tag(got[mid], "d"), _tag(got[mid], "s")) == (d, s), mid
                assert _verify(got[mid], records), mid
            # No `*` key outside the virtual MTA that has it, no named key: sent unsigned.
            assert b"DKIM-Signature:" not in got["none@test"]
            assert mta.stop() == 0
