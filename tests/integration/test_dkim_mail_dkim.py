"""A second, independent DKIM verifier, and DomainKeys (`dk-sign`): Perl's Mail::DKIM checks what
outpostd delivered, fetching the keys from a real DNS server (dnsmasq on loopback, TXT records made
from the test's keys), not from a dictionary.

One outpostd holds an RSA-2048 domain-key for rsa.example and an Ed25519 one for ed.example. Mail
to both.test is signed with DKIM and DomainKeys (`dkim-sign yes`, `dk-sign yes`), to dk.test with
DomainKeys only, to plain.test with DKIM only. Every message variant (folded headers, long lines,
trailing blank and whitespace-only lines, 8-bit, a dot-stuffed line) must pass each signature it
carries; a DomainKeys signature cannot be made with an Ed25519 key, so ed.example's mail carries
DKIM only and the failure is counted (Debian 12's Mail::DKIM cannot check ed25519-sha256 itself;
test_dkim_delivery.py has dkimpy verify it). A message altered after delivery fails both.
"""
import os
import subprocess

import pytest

from harness.dnsmasq import Dnsmasq
from harness.isp_sim import IspSim
from harness.mgmt import MGMT_CONFIG, MgmtClient
from harness.outpostd import OutpostD, wait_for

from test_dkim_delivery import _dns_record, _genkey, _received, _send, _variants

VERIFY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness", "mail_dkim_verify.pl")

if subprocess.run(["perl", "-MMail::DKIM::Verifier", "-MNet::DNS", "-e", "1"],
                  capture_output=True).returncode != 0:
    pytest.skip("Perl's Mail::DKIM (libmail-dkim-perl) is not installed", allow_module_level=True)

# destination -> (kinds of signature expected on mail from rsa.example)
DESTINATIONS = {
    "both.test": {"dkim", "domainkeys"},
    "dk.test": {"domainkeys"},
    "plain.test": {"dkim"},
}


def _txt(name, record):
    """A dnsmasq --txt-record with the value split in strings of at most 255 bytes."""
    text = record.decode()
    chunks = [text[i:i + 255] for i in range(0, len(text), 255)]
    return f"--txt-record={name}," + ",".join(f'"{c}"' for c in chunks)


def _config(tmp_path, sim_port):
    return (MGMT_CONFIG + f"domain-key s1,rsa.example,{tmp_path / 'rsa.pem'}\n"
            f"domain-key s2,ed.example,{tmp_path / 'ed.pem'}\n"
            f"<domain *>\n  route [127.0.0.1]:{sim_port}\n</domain>\n"
            "<domain both.test>\n  dkim-sign yes\n  dk-sign yes\n</domain>\n"
            "<domain dk.test>\n  dk-sign yes\n</domain>\n"
            "<domain plain.test>\n  dkim-sign yes\n</domain>\n")


def _verify(dns, paths):
    """{path: {kind: result}} from Mail::DKIM."""
    out = subprocess.run(["perl", VERIFY, str(dns.port)] + [str(p) for p in paths],
                         check=True, capture_output=True, text=True).stdout
    results = {}
    for line in out.splitlines():
        path, kind, result, detail = (line.split("\t") + [""])[:4]
        results.setdefault(path, {})[kind] = (result, detail)
    return results


def test_mail_dkim_verifies_dkim_and_domainkeys_from_real_dns(tmp_path):
    _genkey(tmp_path / "rsa.pem", "RSA")
    _genkey(tmp_path / "ed.pem", "ed25519")
    records = [_txt("s1._domainkey.rsa.example", _dns_record(tmp_path / "rsa.pem")),
               _txt("s2._domainkey.ed.example", _dns_record(tmp_path / "ed.pem"))]
    maildir = tmp_path / "maildir"
    expected = {}  # Message-ID -> kinds of signature it must carry
    with Dnsmasq(tmp_path, records) as dns, \
            IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim, \
            OutpostD(extra_config=_config(tmp_path, sim.port), workdir=str(tmp_path)) as mta:
        for dest, kinds in DESTINATIONS.items():
            for label in ("folded", "long", "trailing", "8bit"):
                mid = f"{label}.rsa.{dest}@test"
                _send(mta, "news@rsa.example", f"u@{dest}",
                      _variants("news@rsa.example", f"u@{dest}", mid)[label])
                expected[mid] = kinds
        _send(mta, "news@ed.example", "u@both.test",
              _variants("news@ed.example", "u@both.test", "ed.both@test")["folded"])
        expected["ed.both@test"] = {"dkim"}
        got = wait_for(lambda: (lambda r: r if len(r) >= len(expected) else None)(
            _received(maildir)), timeout=90, what=f"{len(expected)} messages at the sim")
        # dk-sign on mail whose key is Ed25519: DKIM only, and counted (figures mirrored each
        # second).
        counters = wait_for(lambda: (lambda d: d if d["domainkeys_failures"] >= 1 else None)(
            MgmtClient(mta).get("/status.json")[1]["dkim"]), 30, "the signing counters")

        files = {}
        for mid, data in got.items():
            files[mid] = tmp_path / f"{mid}.eml"
            files[mid].write_bytes(data)
        results = _verify(dns, files.values())
        for mid, kinds in expected.items():
            result = results[str(files[mid])]
            assert set(result) == kinds, (mid, result)
            for kind in kinds:
                if mid == "ed.both@test":  # this Mail::DKIM knows no ed25519 (dkimpy checks it)
                    assert "ed25519" in result[kind][1] or result[kind][0] == "pass", result
                    continue
                assert result[kind][0] == "pass", (mid, kind, result[kind])
        assert b"a=rsa-sha1; q=dns; c=nofws" in got["folded.rsa.both.test@test"]
        assert counters["domainkeys_failures"] == 1
        assert counters["domainkeys_signed"] == 8

        # The same verifier fails a message changed after signing (so "pass" above means
        # something).
        altered = tmp_path / "altered.eml"
        altered.write_bytes(got["long.rsa.both.test@test"].replace(b"word word", b"word w0rd", 1))
        result = _verify(dns, [altered])[str(altered)]
        assert result["dkim"][0] == "fail" and result["domainkeys"][0] == "fail", result
