"""Shaping limits of a queue, observed by outpost-isp-sim (its JSON stats) and in the accounting
file: max-smtp-out, max-connect-rate, max-msg-rate, max-msg-per-connection,
max-rcpt-per-transaction and source-ip-max-smtp-out.

Load: one message with many recipients at one domain and max-rcpt-per-transaction 1 puts many
transactions in the queue at once (deterministic, fast to inject). The simulator holds each reply
a little (reply-delay) so connections overlap when the limits let them.
"""
import time

from harness.delivery import inject, wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD


def routed(sim, body):
    return f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n{body}</domain>\n"


def test_max_smtp_out_caps_concurrent_connections(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *>\n  reply-delay 30ms\n</domain>\n") as sim:
        config = routed(sim, "  max-smtp-out 3\n  max-rcpt-per-transaction 1\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [[f"r{i}@shape.test" for i in range(40)]])
            wait_records(mta, "d", 40, timeout=60)
            client = sim.stats()["clients"]["127.0.0.1"]
            assert client["connections_peak"] == 3  # the load needs 3; never a 4th


def test_max_connect_rate_spaces_connections(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        config = routed(sim, "  max-connect-rate 3/s\n  max-msg-per-connection 1\n"
                             "  max-rcpt-per-transaction 1\n")
        with OutpostD(extra_config=config) as mta:
            start = time.monotonic()
            inject(mta, "news@app.test", [[f"r{i}@shape.test" for i in range(10)]])
            wait_records(mta, "d", 10, timeout=60)
            elapsed = time.monotonic() - start
            client = sim.stats()["clients"]["127.0.0.1"]
            assert client["connections_total"] == 10  # one message per connection
            # GCRA spaces connections by 1/3 s: ten take at least 3 s on outpostd's clock. The sim
            # timestamps arrivals after loopback jitter, so its 1 s window may see one extra
            # connection right at a boundary; without the limit it would see all ten.
            assert elapsed >= 2.9
            assert client["connection_rate_peak"] <= 4


def test_max_msg_rate_counts_recipients_per_second(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        config = routed(sim, "  max-msg-rate 50/s\n  max-rcpt-per-transaction 5\n")
        with OutpostD(extra_config=config) as mta:
            start = time.monotonic()
            inject(mta, "news@app.test", [[f"r{i}@rate.test" for i in range(150)]])
            d = wait_records(mta, "d", 150, timeout=60)
            elapsed = time.monotonic() - start
            # 150 recipients at 50/s: the last is allowed 149/50 s after the first.
            assert elapsed >= 2.5
            per_second = {}
            for r in d:
                per_second[r["timeLogged"]] = per_second.get(r["timeLogged"], 0) + 1
            # Recipients are taken at most 50 per second; a transaction's records are logged
            # when it completes, so allow one transaction (5) of skew across a second boundary.
            assert max(per_second.values()) <= 50 + 5
            assert sim.stats()["totals"]["recipients_accepted"] == 150


def test_max_msg_per_connection_reconnects(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        config = routed(sim, "  max-smtp-out 1\n  max-msg-per-connection 5\n"
                             "  max-rcpt-per-transaction 1\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [[f"r{i}@shape.test" for i in range(22)]])
            wait_records(mta, "d", 22, timeout=60)
            stats = sim.stats()
            assert stats["totals"]["messages"] == 22
            assert stats["clients"]["127.0.0.1"]["connections_total"] == 5  # ceil(22 / 5)
            # max-smtp-out 1 covers QUIT in progress: a successor never overlaps it.
            assert stats["clients"]["127.0.0.1"]["connections_peak"] == 1


def test_max_rcpt_per_transaction_splits_recipients(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        config = routed(sim, "  max-smtp-out 1\n  max-rcpt-per-transaction 3\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [[f"r{i}@shape.test" for i in range(10)]])
            wait_records(mta, "d", 10, timeout=60)
            stats = sim.stats()
            assert stats["totals"]["recipients_accepted"] == 10
            assert stats["totals"]["messages"] == 4  # transactions: 3 + 3 + 3 + 1


def test_source_ip_max_smtp_out_per_local_address(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *>\n  reply-delay 30ms\n</domain>\n") as sim:
        config = ("<virtual-mta two>\n  smtp-source-host 127.0.0.2 two-a.app.test\n"
                  "  smtp-source-host 127.0.0.3 two-b.app.test\n</virtual-mta>\n" +
                  routed(sim, "  max-smtp-out 10\n  source-ip-max-smtp-out 1\n"
                              "  max-rcpt-per-transaction 1\n"))
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test", [[f"r{i}@shape.test" for i in range(20)]],
                   headers="X-Virtual-MTA: two\r\n")
            d = wait_records(mta, "d", 20, timeout=60)
            clients = sim.stats()["clients"]
            assert set(clients) == {"127.0.0.2", "127.0.0.3"}
            for ip in ("127.0.0.2", "127.0.0.3"):
                assert clients[ip]["connections_peak"] == 1, clients
            assert {r["dlvSourceIp"] for r in d} == {"127.0.0.2", "127.0.0.3"}
