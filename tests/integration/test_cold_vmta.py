"""IP warm-up (issue #16): cold-virtual-mta / auto-cold-virtual-mta with max-cold-virtual-mta-msg.
Mail queued for the warm virtual MTA leaves from the cold one's address for the first N recipients
of a destination per day, the rest from the warm one's, measured at the receiver (outpost-isp-sim's
per-client stats: one loopback source address per virtual MTA) and in the accounting vmta and
dlvSourceIp fields. The day's count survives a restart of outpostd. Every wait is on a condition.
"""
import jsonschema

from harness.delivery import inject, wait_records
from harness.isp_sim import IspSim
from harness.mgmt import MGMT_CONFIG, MgmtClient, doc_schemas
from harness.outpostd import OutpostD, wait_for


def routed(sim):
    return f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n</domain>\n"


def send(mta, first, count, domain="warm.test"):
    inject(mta, "news@app.test", [[f"r{first + i}@{domain}"] for i in range(count)],
           mid_prefix=f"m{first}-", headers="X-Virtual-MTA: warm\r\n")


def messages_from(sim):
    return {ip: c["messages"] for ip, c in sim.stats()["clients"].items()}


def test_named_cold_vmta_takes_n_per_day_and_the_count_survives_a_restart(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *>\n</domain>\n") as sim:
        config = (MGMT_CONFIG +
                  "<virtual-mta warm>\n  smtp-source-host 127.0.0.2 warm.app.test\n"
                  "  cold-virtual-mta cold\n"
                  "  <domain warm.test>\n    max-cold-virtual-mta-msg 4/day\n  </domain>\n"
                  "</virtual-mta>\n"
                  "<virtual-mta cold>\n  smtp-source-host 127.0.0.3 cold.app.test\n"
                  "</virtual-mta>\n" + routed(sim))
        mta = OutpostD(extra_config=config)
        try:
            mta.start()
            send(mta, 0, 10)
            d = wait_records(mta, "d", 10, timeout=60)
            assert sorted(r["vmta"] for r in d) == ["cold"] * 4 + ["warm"] * 6
            assert {r["vmta"]: r["dlvSourceIp"] for r in d} == {"cold": "127.0.0.3",
                                                               "warm": "127.0.0.2"}
            assert messages_from(sim) == {"127.0.0.3": 4, "127.0.0.2": 6}

            client = MgmtClient(mta)

            def warm_queue():  # the queue sample is refreshed periodically
                status, body = client.get("/queues.json", {"vmta": "warm"})
                assert status == 200
                jsonschema.validate(body, doc_schemas()["queues"])
                return body["queues"][0] if body["queues"] else None

            wait_for(lambda: warm_queue() and warm_queue()["delivered"] == 6, 20, "queue sample")
            assert warm_queue()["cold_vmta"] == {"name": "cold", "today": 4, "limit": 4}

            mta.stop()  # restart the same day: the 4 already sent still count
            mta.start()
            send(mta, 10, 3)
            d = wait_records(mta, "d", 13, timeout=60)
            after = [r["vmta"] for r in d if int(r["rcpt"][1:].split("@")[0]) >= 10]
            assert after == ["warm"] * 3
            assert messages_from(sim) == {"127.0.0.3": 4, "127.0.0.2": 9}
        finally:
            mta.close()


def test_auto_cold_vmta_with_a_global_cap(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *>\n</domain>\n") as sim:
        # As PowerMTA configs write it: the cold address defined inside the warm virtual MTA,
        # the cap in a global <domain> (here a named one, so other domains keep the default).
        config = ("<virtual-mta warm>\n  smtp-source-host 127.0.0.2 warm.app.test\n"
                  "  auto-cold-virtual-mta 127.0.0.3 new.app.test\n</virtual-mta>\n"
                  + routed(sim) + "<domain warm.test>\n  max-cold-virtual-mta-msg 2\n"
                  "  route [127.0.0.1]:" + str(sim.port) + "\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            send(mta, 0, 5)
            send(mta, 5, 3, domain="other.test")  # default cap 100/day: all three cold
            d = wait_records(mta, "d", 8, timeout=60)
            by_domain = {}
            for r in d:
                by_domain.setdefault(r["rcpt"].split("@")[1], []).append(r["vmta"])
            assert sorted(by_domain["warm.test"]) == ["warm"] * 3 + ["warm-cold"] * 2
            assert by_domain["other.test"] == ["warm-cold"] * 3
            assert messages_from(sim) == {"127.0.0.3": 5, "127.0.0.2": 3}
