"""Per-virtual-MTA destination policy (issue #16): <domain> sections nested in <virtual-mta> and
<virtual-mta-pool> shape each (domain, virtual MTA) queue with that virtual MTA's policy, measured
at the receiver (outpost-isp-sim's per-client stats: one client address per virtual MTA).

Load: one message per virtual MTA with many recipients and max-rcpt-per-transaction 1, so many
transactions wait at once; the simulator holds each reply a little so connections overlap when
the limits let them. Every wait is on a condition (the accounting records), none on time.
"""
from harness.delivery import inject, wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD

VMTAS = ("<virtual-mta slow>\n  smtp-source-host 127.0.0.2 slow.app.test\n"
         "  <domain shape.test>\n    max-smtp-out 1\n    max-msg-per-connection 4\n"
         "  </domain>\n</virtual-mta>\n"
         "<virtual-mta fast>\n  smtp-source-host 127.0.0.3 fast.app.test\n"
         "  <domain shape.test>\n    max-smtp-out 3\n  </domain>\n</virtual-mta>\n")


def routed(sim, body=""):
    return (f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n"
            f"  max-rcpt-per-transaction 1\n{body}</domain>\n")


def send_through(mta, vmta, count):
    inject(mta, "news@app.test", [[f"{vmta}{i}@shape.test" for i in range(count)]],
           headers=f"X-Virtual-MTA: {vmta}\r\n")


def test_two_vmtas_to_one_domain_get_their_own_connection_caps(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *>\n  reply-delay 30ms\n</domain>\n") as sim:
        # The global <domain shape.test> would allow 10 connections and 20 messages each; the
        # virtual MTAs' own sections override what they set, and only for their own mail.
        config = (VMTAS + routed(sim) +
                  "<domain shape.test>\n  max-smtp-out 10\n  max-msg-per-connection 20\n"
                  "</domain>\n")
        with OutpostD(extra_config=config) as mta:
            send_through(mta, "slow", 20)
            send_through(mta, "fast", 40)
            d = wait_records(mta, "d", 60, timeout=90)
            clients = sim.stats()["clients"]
            slow, fast = clients["127.0.0.2"], clients["127.0.0.3"]
            assert slow["connections_peak"] == 1, clients   # slow's own max-smtp-out 1
            assert slow["connections_total"] == 5, clients  # max-msg-per-connection 4: 20 / 4
            assert fast["connections_peak"] == 3, clients   # fast's own max-smtp-out 3
            # fast sets no max-msg-per-connection: the global 20 applies, so at most 3 + 1
            # connections carry its 40 (without the global section: 3, with slow's: 10).
            assert fast["connections_total"] <= 4, clients
            assert {r["vmta"] for r in d} == {"slow", "fast"}
            assert {r["queue"] for r in d} == {"shape.test/slow", "shape.test/fast"}


def test_pool_domain_applies_to_members_after_their_own(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *>\n  reply-delay 30ms\n</domain>\n") as sim:
        config = ("<virtual-mta a>\n  smtp-source-host 127.0.0.2 a.app.test\n</virtual-mta>\n"
                  "<virtual-mta b>\n  smtp-source-host 127.0.0.3 b.app.test\n"
                  "  <domain *>\n    max-smtp-out 3\n  </domain>\n</virtual-mta>\n"
                  "<virtual-mta-pool p>\n  virtual-mta a\n  virtual-mta b\n"
                  "  <domain shape.test>\n    max-smtp-out 1\n  </domain>\n"
                  "</virtual-mta-pool>\n" + routed(sim))
        with OutpostD(extra_config=config) as mta:
            # The pool rotates per message: a gets messages 0, 2, ...; b gets 1, 3, ...
            inject(mta, "news@app.test",
                   [[f"m{m}r{i}@shape.test" for i in range(15)] for m in range(4)],
                   headers="X-Virtual-MTA: p\r\n")
            wait_records(mta, "d", 60, timeout=90)
            clients = sim.stats()["clients"]
            # a: the pool's <domain shape.test>; b: the pool's too, before b's own <domain *>.
            assert clients["127.0.0.2"]["connections_peak"] == 1, clients
            assert clients["127.0.0.3"]["connections_peak"] == 1, clients


def test_vmta_max_smtp_out_caps_its_connections_over_all_domains(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *>\n  reply-delay 30ms\n</domain>\n") as sim:
        # Three domains would allow 5 connections each; the virtual MTA's own total is 2.
        config = ("<virtual-mta capped>\n  smtp-source-host 127.0.0.2 capped.app.test\n"
                  "  max-smtp-out 2\n</virtual-mta>\n" + routed(sim, "  max-smtp-out 5\n"))
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test",
                   [[f"r{i}@{d}.test" for i in range(15)] for d in ("a", "b", "c")],
                   headers="X-Virtual-MTA: capped\r\n")
            wait_records(mta, "d", 45, timeout=90)
            client = sim.stats()["clients"]["127.0.0.2"]
            assert client["connections_peak"] == 2, client  # the load needs more; never a 3rd


def test_total_max_smtp_out_caps_all_outbound_connections(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *>\n  reply-delay 30ms\n</domain>\n") as sim:
        # Mail without a virtual MTA leaves from 127.0.0.1: two domains, 5 connections each
        # allowed, 3 in all.
        config = "total-max-smtp-out 3\n" + routed(sim, "  max-smtp-out 5\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "news@app.test",
                   [[f"r{i}@{d}.test" for i in range(20)] for d in ("a", "b")])
            wait_records(mta, "d", 40, timeout=90)
            client = sim.stats()["clients"]["127.0.0.1"]
            assert client["connections_peak"] == 3, client
