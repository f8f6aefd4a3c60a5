"""Backoff mode on a scripted Gmail deferral (421-4.7.28), seen in the log's mode lines, the
accounting t records and the simulator's stats: entry on a matching reply, the backoff-* limits
while in it, exit after backoff-to-normal-after and after a delivery
(backoff-to-normal-after-delivery)."""
from harness.delivery import inject, log_has, wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for

GMAIL_DEFERRAL = ('"421-4.7.28 [127.0.0.1] Our system has detected an unusual rate of\\n'
                  '421 4.7.28 unsolicited mail originating from your IP address."')
PATTERNS = ("<smtp-pattern-list google-errors>\n  reply /421[ -]4\\.7\\.28/ mode=backoff\n"
            "</smtp-pattern-list>\n")
QUEUE = "gmail.test/{default}"


def test_backoff_entry_limits_and_exit_after_time(tmp_path):
    sim_config = (f"<domain gmail.test>\n  defer-ratio 1.0 {GMAIL_DEFERRAL}\n"
                  f"  reply-delay 30ms\n</domain>\n<domain *> accept </domain>\n")
    with IspSim(tmp_path / "sim", sim_config) as sim:
        config = PATTERNS + (f"<domain *>\n  route [127.0.0.1]:{sim.port}\n"
                             f"  smtp-pattern-list google-errors\n  max-smtp-out 10\n"
                             f"  max-rcpt-per-transaction 1\n  retry-after 1h\n"
                             f"  backoff-retry-after 1h\n  backoff-max-smtp-out 1\n"
                             f"  backoff-to-normal-after 4s\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [["first@gmail.test"]])
            t = wait_records(mta, "t", 1)
            assert "4.7.28" in t[0]["dsnDiag"]
            assert t[0]["queue"] == QUEUE
            wait_for(lambda: log_has(mta, f"{QUEUE} mode backoff (reply matched: 421"),
                     what="backoff mode line")
            peak_before = sim.stats()["clients"]["127.0.0.1"]["connections_peak"]
            # In backoff: 20 transactions wait, but backoff-max-smtp-out 1 allows one connection.
            inject(mta, "news@app.test", [[f"r{i}@gmail.test" for i in range(20)]])
            wait_records(mta, "t", 21, timeout=60)
            assert peak_before == 1
            # Each 421 ends its connection. outpostd counts a connection until it is closed,
            # and closing half-closes and reads to the simulator's EOF first (SmtpClientConnection
            # graceful close), so the simulator never sees the successor before the predecessor
            # is gone. Without the backoff limit, max-smtp-out 10 would open up to 10 for the 20
            # waiting transactions.
            assert sim.stats()["clients"]["127.0.0.1"]["connections_peak"] <= 1
            assert sim.stats()["domains"]["gmail.test"]["recipients_deferred"] == 21
            # backoff-to-normal-after 4s.
            wait_for(lambda: log_has(mta, f"{QUEUE} mode normal (backoff-to-normal-after 4s)"),
                     timeout=20, what="return to normal mode")


def test_backoff_exit_after_delivery(tmp_path):
    # defer-ratio 0.5 defers the 2nd, 4th, ... recipient: deliver, defer, deliver.
    sim_config = (f"<domain gmail.test>\n  defer-ratio 0.5 {GMAIL_DEFERRAL}\n</domain>\n"
                  f"<domain *> accept </domain>\n")
    with IspSim(tmp_path / "sim", sim_config) as sim:
        config = PATTERNS + (f"<domain *>\n  route [127.0.0.1]:{sim.port}\n"
                             f"  smtp-pattern-list google-errors\n  retry-after 1h\n"
                             f"  backoff-retry-after 1h\n"
                             f"  backoff-to-normal-after-delivery yes\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [["one@gmail.test"]], mid_prefix="a")
            wait_records(mta, "d", 1)
            assert not log_has(mta, f"{QUEUE} mode backoff")
            inject(mta, "news@app.test", [["two@gmail.test"]], mid_prefix="b")
            wait_records(mta, "t", 1)
            wait_for(lambda: log_has(mta, f"{QUEUE} mode backoff"), what="backoff mode line")
            inject(mta, "news@app.test", [["three@gmail.test"]], mid_prefix="c")
            wait_records(mta, "d", 2)
            wait_for(lambda: log_has(
                mta, f"{QUEUE} mode normal (backoff-to-normal-after-delivery)"),
                what="return to normal after a delivery")
            assert sim.stats()["domains"]["gmail.test"]["recipients_accepted"] == 2
