"""Spool compaction, end to end, against a real outpostd and the ISP simulator.

1. The operator's scenario: 8 KB messages, 1 in 50 addressed to a domain whose MX always answers
   421 (retry-after 1h), the rest delivered at once. Without compaction the deferred few pin every
   segment they share with delivered mail (38x space amplification was measured at 50,000
   messages). With it, once the delivered mail is done, the spool's files shrink to at most twice
   the live (deferred) bytes plus one active segment, within a few minutes; after kill -9 and a
   restart every deferred message is still queued exactly once.
2. kill -9 during compaction, repeatedly: rounds of injection (1 in 10 deferred) with small
   segments and a slow copy rate, so compaction is busy when outpostd is killed at a random
   moment. Afterwards every acknowledged message was either delivered or is queued exactly once,
   and nothing is damaged.

Sizes: OUTPOST_COMPACTION_MESSAGES (default 5000; scripts/reliability.sh runs the full 50,000),
OUTPOST_COMPACTION_ROUNDS (default 3; the reliability script runs 20).
"""
import collections
import json
import os
import subprocess

from harness.isp_sim import IspSim
from harness.mgmt import MGMT_CONFIG, MgmtClient
from harness.outpostd import OutpostD, binary, wait_for
from harness.reliability import figures, seeded, sim_ids

MESSAGES = int(os.environ.get("OUTPOST_COMPACTION_MESSAGES", "5000"))
ROUNDS = int(os.environ.get("OUTPOST_COMPACTION_ROUNDS", "3"))
SEGMENT = 4 << 20

SIM_CONFIG = ('record-message-ids 10000000\n'
              '<domain stuck.test>\n  defer-ratio 1.0 "421 4.7.0 Try again later"\n</domain>\n'
              '<domain *> accept </domain>\n')


def spool_files_bytes(mta):
    """Bytes of every file in the spool's segments folder (segments and their sidecars)."""
    folder = os.path.join(mta.spool, "segments")
    return sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))


def load(mta, messages, domains, ids_file, size="8k", sessions=8):
    out = subprocess.run(
        [binary("outpost-load"), "--sessions", str(sessions), "--messages", str(messages),
         "--size", size, "--domains", domains, "--timeout", "20s", "--ids-file", str(ids_file),
         "--json", f"{mta.host}:{mta.port}"],
        capture_output=True, text=True, timeout=900)
    with open(ids_file) as f:
        return [line.strip() for line in f if line.strip()], out


def queued_by_message_id(mta):
    """Message-ID -> how many spooled messages carry it (daemon stopped)."""
    messages, summary = mta.list_spool()
    assert summary["damaged"] == 0
    return collections.Counter(m["message_id"] for m in messages), messages


def test_deferred_mail_does_not_pin_delivered_mail(tmp_path):
    with IspSim(tmp_path / "sim", SIM_CONFIG) as sim:
        config = (MGMT_CONFIG + f"spool-segment-size {SEGMENT}\nspool-compaction-min-age 1s\n"
                  f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n"
                  f"  max-smtp-out 20\n</domain>\n")
        os.makedirs(tmp_path / "mta")
        mta = OutpostD(extra_config=config, workdir=str(tmp_path / "mta"))
        try:
            mta.start()
            api = MgmtClient(mta)
            acked, _ = load(mta, MESSAGES, "ok.test:49,stuck.test:1", tmp_path / "ids.txt")
            assert len(acked) == MESSAGES

            def delivered_and_deferred():
                got = sim_ids(sim)
                domains = sim.stats()["domains"]
                deferred = domains.get("stuck.test", {}).get("recipients_deferred", 0)
                delivered = sum(1 for mid in acked if got[mid])
                status = api.get("/status.json")[1]
                # Every message either delivered or deferred at least once, and nothing else
                # left to do: the queued recipients are the deferred ones.
                return (delivered + status["queue"]["recipients"] == len(acked) and deferred > 0
                        and status["queue"]["recipients"] <= deferred and status)
            status = wait_for(delivered_and_deferred, timeout=300, what="delivered mail done")
            stuck = status["queue"]["recipients"]
            assert 0 < stuck < MESSAGES // 20

            def compacted():
                spool = api.get("/status.json")[1]["spool"]
                on_disk = spool_files_bytes(mta)
                return (on_disk <= 2 * spool["live_bytes"] + SEGMENT + (1 << 20)
                        and spool["bytes"] <= 2 * spool["live_bytes"] + SEGMENT + (1 << 20)
                        and (spool, on_disk))
            spool, on_disk = wait_for(compacted, timeout=240, what="spool compacted")
            print(f"compacted: {on_disk} bytes on disk for {spool['live_bytes']} live "
                  f"({stuck} deferred messages); {spool['compactions']} compactions, "
                  f"{spool['bytes_reclaimed']} bytes reclaimed")
            assert spool["compactions"] > 0 and spool["bytes_reclaimed"] > 0
            assert spool["entries"] == stuck

            mta.kill9()
            counts, messages = queued_by_message_id(mta)
            assert len(messages) == stuck
            assert all(n == 1 for n in counts.values()), \
                [mid for mid, n in counts.items() if n > 1][:5]
            assert all(r.endswith("@stuck.test") for m in messages for r in m["recipients"])
            got = sim_ids(sim)
            assert all(got[mid] == 0 for mid in counts), "a queued message was also delivered"
            # Every acknowledged message is either delivered or queued (once).
            assert not [mid for mid in acked if got[mid] == 0 and counts[mid] != 1]

            mta.start()
            wait_for(lambda: f"recovered {stuck} messages" in mta.log_text(),
                     what="recovery of the deferred messages")
            assert MgmtClient(mta).get("/status.json")[1]["spool"]["entries"] == stuck
            figures("compaction_scenario", messages=MESSAGES, message_size="8k",
                    deferred=stuck, spool_bytes_on_disk=on_disk, live_bytes=spool["live_bytes"],
                    segment_bytes=SEGMENT, compactions=spool["compactions"],
                    bytes_reclaimed=spool["bytes_reclaimed"])
        finally:
            mta.close()


def test_kill9_during_compaction_queues_each_message_once(tmp_path):
    seed, rng = seeded("compaction crash loop")
    with IspSim(tmp_path / "sim", SIM_CONFIG) as sim:
        # Small segments, no minimum age and a slow copy rate: compaction has work whenever
        # outpostd dies.
        config = (MGMT_CONFIG + "spool-segment-size 256K\nspool-compaction-min-age 0s\n"
                  "spool-compaction-rate 128K\n"
                  f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n"
                  f"  max-smtp-out 10\n</domain>\n")
        os.makedirs(tmp_path / "mta")
        mta = OutpostD(extra_config=config, workdir=str(tmp_path / "mta"))
        acked = []
        kills = []
        per_round = 1500
        try:
            for rnd in range(ROUNDS):
                mta.start()
                api = MgmtClient(mta)
                ids_file = tmp_path / f"ids-{rnd}.txt"
                proc = subprocess.Popen(
                    [binary("outpost-load"), "--sessions", "6", "--messages", str(per_round),
                     "--size", "4k", "--domains", "ok.test:9,stuck.test:1", "--timeout", "20s",
                     "--ids-file", str(ids_file), "--json", f"{mta.host}:{mta.port}"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                # Kill once compaction has copied a random amount in this round (the status is
                # sampled every second, so the kill lands at a random point of its work).
                target = rng.randrange(16 << 10, 600 << 10)
                start = api.get("/status.json")[1]["spool"]["compaction_bytes_copied"]

                def copying():
                    spool = api.get("/status.json")[1]["spool"]
                    return spool["compaction_bytes_copied"] >= start + target and spool
                try:
                    spool = wait_for(copying, timeout=240, what="compaction copying")
                    mta.kill9()
                finally:
                    proc.communicate(timeout=300)
                with open(ids_file) as f:
                    round_ids = [line.strip() for line in f if line.strip()]
                acked += round_ids
                kills.append({"round": rnd, "acked": len(round_ids),
                              "copied_bytes_at_kill": spool["compaction_bytes_copied"],
                              "compactions_at_kill": spool["compactions"]})
                print(f"round {rnd}: {len(round_ids)} acknowledged; killed with "
                      f"{spool['compaction_bytes_copied']} bytes copied "
                      f"({spool['compactions']} compactions) since start")

            # Let the deliverable mail drain and compaction finish, then stop and count.
            mta.start()
            api = MgmtClient(mta)

            def settled():
                # Everything deliverable delivered (also what was in flight at a kill, which is
                # delivered again): only the deferred domain's queue holds mail.
                got = sim_ids(sim)
                delivered = sum(1 for mid in acked if got[mid])
                status = api.get("/status.json")[1]
                queues = api.get("/queues.json")[1]["queues"]
                ok_queued = sum(q["recipients"] for q in queues if q["domain"] == "ok.test")
                return (delivered + status["queue"]["recipients"] >= len(acked) and ok_queued == 0
                        and status)
            wait_for(settled, timeout=300, what="deliverable mail delivered")
            mta.stop()
            counts, messages = queued_by_message_id(mta)
            got = sim_ids(sim)
            lost = [mid for mid in acked if got[mid] == 0 and counts[mid] == 0]
            queued_twice = [mid for mid, n in counts.items() if n > 1]
            delivered_and_queued = [mid for mid in counts if got[mid] > 0]
            duplicates = {mid: n for mid, n in got.items() if n > 1}
            figures("compaction_crash_loop", seed=seed, rounds=ROUNDS,
                    messages_per_round=per_round, acknowledged=len(acked),
                    delivered=sum(1 for mid in acked if got[mid]), queued=len(messages),
                    lost=len(lost), queued_twice=len(queued_twice),
                    duplicate_deliveries=sum(n - 1 for n in duplicates.values()), kills=kills)
            assert not lost, f"{len(lost)} acknowledged messages lost, e.g. {lost[:5]}"
            assert not queued_twice, f"queued twice: {queued_twice[:5]}"
            assert not delivered_and_queued, delivered_and_queued[:5]
            # Delivered twice only what was in flight at a kill (max-smtp-out per queue).
            assert sum(n - 1 for n in duplicates.values()) <= ROUNDS * 10, duplicates
            print(json.dumps({"acked": len(acked), "queued": len(messages)}))
        finally:
            mta.close()
