"""outpost-resolve (outpostd's resolver: c-ares in the Asio loop + cache) against a real dnsmasq
on loopback, and against scripted UDP peers for SERVFAIL, REFUSED and silence (timeouts)."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from harness.dnsmasq import Dnsmasq, ScriptedDns

RECORDS = [
    "--mx-host=example.test,mx2.example.test,20",
    "--mx-host=example.test,mx1.example.test,10",
    "--mx-host=example.test,mx3.example.test,30",
    "--host-record=mx1.example.test,127.0.0.11",
    "--host-record=mx2.example.test,127.0.0.12,::12",
    "--host-record=mx3.example.test,127.0.0.13",
    "--host-record=implicit.test,127.0.0.5",
    "--mx-host=nullmx.test,.,0",
]


def resolve(server, *args, check_exit=None):
    binary = Path(os.environ.get("OUTPOST_BIN", "build/bin")) / "outpost-resolve"
    proc = subprocess.run([str(binary), "--server", server, *args], capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout, proc.stderr
    out = json.loads(proc.stdout)
    if check_exit is not None:
        assert proc.returncode == check_exit, proc.stdout + proc.stderr
    return out


@pytest.fixture
def dns(tmp_path):
    with Dnsmasq(tmp_path, RECORDS) as server:
        yield server


# label, command, name, expected status, expected hosts (MX) or addresses, implicit, exit code
CASES = [
    ("mx order", "mx", "example.test", "ok",
     ["mx1.example.test", "mx2.example.test", "mx3.example.test"], False, 0),
    ("implicit mx", "mx", "implicit.test", "ok", ["implicit.test"], True, 0),
    ("null mx", "mx", "nullmx.test", "null-mx", [], False, 1),
    ("nxdomain mx", "mx", "nosuch.test", "nxdomain", [], False, 1),
    ("address v4", "a", "mx1.example.test", "ok", ["127.0.0.11"], None, 0),
    ("address nxdomain", "a", "nosuch.test", "nxdomain", [], None, 1),
]


@pytest.mark.parametrize("label,command,name,status,values,implicit,code", CASES,
                         ids=[c[0] for c in CASES])
def test_answers(dns, label, command, name, status, values, implicit, code):
    out = resolve(dns.server, command, name, check_exit=code)
    result = out["results"][0]
    assert result["status"] == status, result
    if command == "mx":
        assert [h["host"] for h in result["hosts"]] == values
        assert result["implicit"] is implicit
        prefs = [h["preference"] for h in result["hosts"]]
        assert prefs == sorted(prefs)
    else:
        assert result["addresses"] == values
    if status != "ok":
        assert result["error"]


def test_ipv6_addresses_after_ipv4(dns):
    result = resolve(dns.server, "--ipv6", "a", "mx2.example.test")["results"][0]
    assert result["addresses"] == ["127.0.0.12", "::12"]


def test_route_implicit_mx_falls_back_to_the_domains_address(dns):
    out = resolve(dns.server, "route", "implicit.test", check_exit=0)["results"][0]
    assert out["mx"]["implicit"] is True
    assert out["hosts"] == [{"host": "implicit.test", "preference": 0,
                             "addresses": {"status": "ok", "addresses": ["127.0.0.5"],
                                           "ttl": 600, "error": ""}}]


def test_route_resolves_each_mx_in_order(dns):
    out = resolve(dns.server, "route", "example.test")["results"][0]
    assert [(h["host"], h["addresses"]["addresses"]) for h in out["hosts"]] == [
        ("mx1.example.test", ["127.0.0.11"]), ("mx2.example.test", ["127.0.0.12"]),
        ("mx3.example.test", ["127.0.0.13"])]


def test_second_lookup_served_from_cache(dns):
    out = resolve(dns.server, "--repeat", "3", "mx", "example.test")
    assert [r["status"] for r in out["results"]] == ["ok"] * 3
    assert out["stats"]["queries"] == 1
    assert out["stats"]["cache_hits"] == 2
    assert out["stats"]["cache_misses"] == 1
    assert dns.queries_logged("example.test") == 1  # dnsmasq saw one question only


def test_concurrent_lookups_share_one_query(dns):
    out = resolve(dns.server, "--parallel", "10", "a", "mx3.example.test")
    assert len(out["results"]) == 10
    assert all(r["addresses"] == ["127.0.0.13"] for r in out["results"])
    assert out["stats"]["queries"] == 1
    assert dns.queries_logged("mx3.example.test") == 1


def test_negative_answer_cached(dns):
    out = resolve(dns.server, "--repeat", "2", "--negative-ttl", "120", "mx", "nosuch.test")
    assert [r["status"] for r in out["results"]] == ["nxdomain", "nxdomain"]
    assert out["results"][0]["ttl"] == 120
    assert out["stats"]["cache_hits"] == 1
    assert dns.queries_logged("nosuch.test") == 1


@pytest.mark.parametrize("cap,expected", [(60, 60), (3600, 600)], ids=["capped", "uncapped"])
def test_ttl_cap(dns, cap, expected):
    # dnsmasq serves its records with --local-ttl=600.
    out = resolve(dns.server, "--ttl-cap", str(cap), "--repeat", "2", "mx", "example.test")
    first, second = out["results"]
    assert first["ttl"] == expected
    assert 0 < second["ttl"] <= expected


@pytest.mark.parametrize("behaviour", ["servfail", "refused", "silent"])
def test_temporary_failures(behaviour):
    with ScriptedDns(behaviour) as peer:
        out = resolve(peer.server, "--timeout-ms", "200", "--tries", "2", "--repeat", "2",
                      "mx", "example.test", check_exit=75)
        assert [r["status"] for r in out["results"]] == ["tempfail", "tempfail"]
        assert out["stats"]["failures"] == 2
        assert out["stats"]["cache_hits"] == 0  # temporary failures are not cached
        # Two lookups, each tried twice by c-ares (a SERVFAIL/REFUSED also moves to the next try).
        assert peer.queries == 4


def test_nxdomain_negative_ttl_from_soa():
    with ScriptedDns("nxdomain-soa", soa_minimum=42) as peer:
        result = resolve(peer.server, "mx", "gone.test", check_exit=1)["results"][0]
        assert result["status"] == "nxdomain"
        assert result["ttl"] == 42


def test_bad_server_is_a_usage_error():
    binary = Path(os.environ.get("OUTPOST_BIN", "build/bin")) / "outpost-resolve"
    proc = subprocess.run([str(binary), "--server", "not-an-ip:53", "mx", "x.test"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 64
    assert "not an IP address" in proc.stderr
