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

Waits are on accounting records with deadlines (no sleeps).
"""
from harness.delivery import inject, log_has, records, wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD
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
            assert mta.stop() == 0
            messages, _ = mta.list_spool()
            assert [m["message_id"] for m in messages] == [ids[0]], "kept for a later retry"
            figures("tls_required_handshake_failure", messages=1, deferred_tries=len(t),
                    bounced=0, lost=0, kept_in_spool=len(messages))
