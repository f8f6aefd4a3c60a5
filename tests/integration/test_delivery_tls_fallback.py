"""Opportunistic TLS falls back to plain text when the STARTTLS handshake fails; required TLS
defers. The receiver is outpost-isp-sim with `starttls-fail yes` (it advertises STARTTLS, answers
220, then sends plain text instead of a ServerHello).

| policy                                   | expected                                         |
|------------------------------------------|--------------------------------------------------|
| use-starttls yes, require-starttls no    | delivered at once in plain text (no t/tq record); |
|                                          | one failed handshake in all: the MX address is   |
|                                          | remembered, the next connections skip STARTTLS   |
| require-starttls yes                     | deferred (tq records naming TLS), never bounced, |
|                                          | kept in the spool                                |
| use-starttls no                          | plain text, no STARTTLS tried at all             |
| broken TLS on port A, real Postfix with  | port B still gets TLS (Postfix's Received: names |
| TLS on port B of the same address        | TLSv1.x); the failure is remembered for A only,  |
|                                          | counted, persisted and still honoured after a    |
|                                          | restart (no second handshake at A)               |

Waits are on accounting records, files and status values with deadlines (no sleeps).
"""
import os

from harness.delivery import inject, log_has, records, wait_records
from harness.isp_sim import IspSim
from harness.mgmt import MGMT_CONFIG, MgmtClient
from harness.outpostd import OutpostD, wait_for
from harness.postfix import Postfix, require_postfix
from harness.reliability import figures, sim_ids

N = 3


def test_handshake_failure_falls_back_to_plain_text_and_is_remembered(tmp_path):
    with IspSim(tmp_path / "sim", "starttls-fail yes\n<domain *> accept </domain>\n") as sim:
        # One connection at a time and one message per connection: three connections in a row,
        # so the second and third show whether the failure was remembered.
        config = (f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n"
                  f"  max-smtp-out 1\n  max-msg-per-connection 1\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            ids = inject(mta, "app@sender.test", [[f"u{i}@tls.test"] for i in range(N)],
                         mid_prefix="fallback")
            d = wait_records(mta, "d", N, timeout=30)
            got = sim_ids(sim)
            totals = sim.stats()["totals"]
            figures("tls_fallback_opportunistic", messages=N, delivered=len(d),
                    tls_handshake_failures=totals["tls_failures"],
                    deferred=len(records(mta, "t")) + len(records(mta, "tq")))
            assert all(got[mid] == 1 for mid in ids), (ids, got)
            # Delivered on the first try: no deferral (retry-after 1h would have held them).
            assert records(mta, "t") == [] and records(mta, "tq") == []
            assert records(mta, "b") == []
            assert totals["tls_failures"] == 1, "later connections went straight to plain text"
            assert log_has(mta, "retrying in plain text")


def test_required_tls_defers_on_handshake_failure(tmp_path):
    with IspSim(tmp_path / "sim", "starttls-fail yes\n<domain *> accept </domain>\n") as sim:
        config = (f"<domain tls.test>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1s\n"
                  f"  require-starttls yes\n</domain>\n"
                  f"<domain plain.test>\n  route [127.0.0.1]:{sim.port}\n  use-starttls no\n"
                  f"</domain>\n<domain *>\n  route [127.0.0.1]:{sim.port}\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            ids = inject(mta, "app@sender.test", [["a@tls.test"], ["b@plain.test"]],
                         mid_prefix="tls")
            wait_records(mta, "d", 1, timeout=30, where=lambda r: r["rcpt"] == "b@plain.test")
            # Two tries of the TLS domain, both deferred (connection-level: tq records). Each
            # try handshakes again: required TLS does not use the fallback's memory.
            t = wait_records(mta, "tq", 2, timeout=30, where=lambda r: "tls.test" in r["queue"])
            assert all("TLS" in r["dsnDiag"] for r in t), [r["dsnDiag"] for r in t]
            assert records(mta, "b") == []
            assert not [r for r in records(mta, "d") if r["rcpt"] == "a@tls.test"]
            assert sim.stats()["totals"]["tls_failures"] >= 2
            assert sim_ids(sim)[ids[1]] == 1
            assert not log_has(mta, "retrying in plain text")
            assert not log_has(mta, "sending in plain text")
            assert mta.stop() == 0
            memory = os.path.join(mta.spool, "tls-failures")
            assert not os.path.exists(memory) or len(open(memory).read().splitlines()) == 1, \
                "require-starttls never writes the fallback's memory"
            messages, _ = mta.list_spool()
            assert [m["message_id"] for m in messages] == [ids[0]], "kept for a later retry"
            figures("tls_required_handshake_failure", messages=1, deferred_tries=len(t),
                    bounced=0, lost=0, kept_in_spool=len(messages))


def _status(mta):
    status, body = MgmtClient(mta).get("/status.json")
    assert status == 200, body
    return body


def test_failure_on_one_port_leaves_tls_on_for_other_ports_and_survives_restart(tmp_path):
    require_postfix()
    sim_conf = "starttls-fail yes\n<domain *> accept </domain>\n"
    with IspSim(tmp_path / "sim", sim_conf) as sim, \
            Postfix(domains=["good.test"], tls=True) as pf:
        # Both receivers on 127.0.0.1: port A (sim) fails every handshake, port B (Postfix) works.
        config = (MGMT_CONFIG +
                  f"<domain broken.test>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n"
                  f"</domain>\n<domain good.test>\n  route [127.0.0.1]:{pf.port}\n"
                  f"  retry-after 1h\n</domain>\n")
        workdir = tmp_path / "mta"
        workdir.mkdir()
        with OutpostD(extra_config=config, workdir=str(workdir)) as mta:
            inject(mta, "app@sender.test", [["a@broken.test"]], mid_prefix="portA")
            wait_records(mta, "d", 1, where=lambda r: r["rcpt"] == "a@broken.test")
            assert sim.stats()["totals"]["tls_failures"] == 1
            assert log_has(mta, f"127.0.0.1[127.0.0.1]:{sim.port}; retrying in plain text")

            # Same address, other port: STARTTLS is still used there.
            inject(mta, "app@sender.test", [["b@good.test"]], mid_prefix="portB")
            wait_records(mta, "d", 1, where=lambda r: r["rcpt"] == "b@good.test")
            received = pf.wait_messages(1)[0]
            head = received.split(b"\n\n", 1)[0]
            assert b"using TLSv1" in head, head.decode(errors="replace")

            interop = wait_for(lambda: (lambda i: i if i["tls_fallbacks"] == 1 else None)(
                _status(mta)["interop"]), 15, "tls_fallbacks in /status.json")
            assert interop["tls_failures_remembered"] == 1
            assert mta.stop() == 0
            lines = (workdir / "spool" / "tls-failures").read_text().splitlines()
            assert lines[0] == "# outpost tls-failures v1"
            assert [line.split()[1:] for line in lines[1:]] == [
                [str(sim.port), "127.0.0.1", "127.0.0.1"]], lines

        # A restart loads the memory: the broken port is not tried with STARTTLS again.
        with OutpostD(extra_config=config, workdir=str(workdir)) as mta:
            assert log_has(mta, "TLS failure memory: 1 server(s)")
            inject(mta, "app@sender.test", [["c@broken.test"]], mid_prefix="portA-again")
            wait_records(mta, "d", 1, where=lambda r: r["rcpt"] == "c@broken.test")
            assert sim.stats()["totals"]["tls_failures"] == 1, "no second handshake at port A"
            assert log_has(mta, f"sending in plain text to 127.0.0.1[127.0.0.1]:{sim.port}")
            inject(mta, "app@sender.test", [["d@good.test"]], mid_prefix="portB-again")
            received = pf.wait_messages(2)
            assert all(b"using TLSv1" in m.split(b"\n\n", 1)[0] for m in received)
            wait_for(lambda: _status(mta)["interop"]["tls_fallbacks"] == 1, 15,
                     "the restarted daemon counted its fallback")
