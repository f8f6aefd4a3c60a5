"""Crash consistency: a 250 means delivered or bounced, never lost, across repeated kill -9.

Each round injects a few thousand messages with outpost-load into one outpostd (one spool, one
accounting file for the whole run) that delivers them to the ISP simulator while the injection
runs; at a random moment (a random number of accepted messages) outpostd is killed with SIGKILL
and started again on the same spool. After the last round the queue drains. Then:

* every Message-ID that outpost-load saw acknowledged (250 after DATA) reached the simulator;
* duplicates (a Message-ID the simulator accepted more than once) are at most what was in flight
  when outpostd died: the transactions on the wire plus the delivered recipients whose spool
  completion mark had not reached the file (marks are written without fsync, but with write(2),
  so a kill -9 loses none already written; in-flight = max-smtp-out connections per queue);
* the accounting file has a final record (d or b) for every acknowledged recipient;
* the spool is empty and has no damaged entry.

Rounds: OUTPOST_CRASH_ROUNDS (default 3 for CI; scripts/reliability.sh runs 20), messages per
round OUTPOST_CRASH_MESSAGES (default 2000). The random generator is seeded from
OUTPOST_RELIABILITY_SEED or a fresh seed, printed either way.
"""
import os
import subprocess

from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, binary, wait_for
from harness.reliability import figures, final_records, seeded, sim_ids

ROUNDS = int(os.environ.get("OUTPOST_CRASH_ROUNDS", "3"))
MESSAGES = int(os.environ.get("OUTPOST_CRASH_MESSAGES", "2000"))
MAX_SMTP_OUT = 10


def accepted_count(mta, state):
    """Messages outpostd logged as accepted since `state['offset']` (log read incrementally)."""
    try:
        with open(mta.log, "rb") as f:
            f.seek(state["offset"])
            chunk = f.read()
    except FileNotFoundError:
        return 0
    complete = chunk.rfind(b"\n") + 1
    state["offset"] += complete
    state["count"] += chunk[:complete].count(b" accepted ")
    return state["count"]


def read_acked(ids_file):
    """Message-IDs outpost-load saw acknowledged, and its run id (from the ids)."""
    with open(ids_file) as f:
        ids = [line.strip() for line in f if line.strip()]
    return ids


def rcpt_of(message_id, domain):
    """outpost-load's recipient for a Message-ID: <RUN.SEQ@...> went to userSEQ-0@domain."""
    seq = message_id[1:].split("@", 1)[0].rsplit(".", 1)[1]
    return f"user{seq}-0@{domain}"


def test_kill9_loop_loses_no_acknowledged_message(tmp_path):
    seed, rng = seeded("crash loop")
    sim = IspSim(tmp_path / "sim", "record-message-ids 10000000\n<domain *> accept </domain>\n")
    with sim:
        config = (f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1s\n"
                  f"  max-smtp-out {MAX_SMTP_OUT}\n</domain>\n")
        os.makedirs(tmp_path / "mta")
        mta = OutpostD(extra_config=config, workdir=str(tmp_path / "mta"))
        acked = {}  # Message-ID -> recipient
        kills = []
        try:
            for rnd in range(ROUNDS):
                mta.start()
                domain = f"r{rnd}.crash.test"
                ids_file = tmp_path / f"ids-{rnd}.txt"
                kill_after = rng.randrange(MESSAGES // 20, MESSAGES * 9 // 10)
                load = subprocess.Popen(
                    [binary("outpost-load"), "--sessions", "8", "--messages", str(MESSAGES),
                     "--size", "2k", "--domains", f"{domain}:1", "--timeout", "10s",
                     "--ids-file", str(ids_file), "--json", f"{mta.host}:{mta.port}"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                # Count this round's accepted messages only (the log spans every round).
                state = {"offset": os.path.getsize(mta.log), "count": 0}
                try:
                    wait_for(lambda: accepted_count(mta, state) >= kill_after or
                             load.poll() is not None, timeout=120,
                             what=f"{kill_after} accepted messages")
                    delivered_before = sum(sim_ids(sim).values())
                    mta.kill9()
                finally:
                    load.communicate(timeout=120)
                round_ids = read_acked(ids_file)
                for mid in round_ids:
                    acked[mid] = rcpt_of(mid, domain)
                kills.append({"round": rnd, "kill_after_accepted": kill_after,
                              "acked": len(round_ids), "sim_total_at_kill": delivered_before})
                print(f"round {rnd}: killed after {state['count']} accepted "
                      f"(target {kill_after}); {len(round_ids)} acknowledged")

            # Drain: start again and wait until every acknowledged message has its final record.
            mta.start()

            def drained():
                finals = final_records(mta)
                return all(rcpt in finals for rcpt in acked.values())
            wait_for(drained, timeout=300, what="a final record for every acknowledged recipient")
            got = sim_ids(sim)
            assert mta.stop() == 0
            messages, summary = mta.list_spool()

            missing = [mid for mid in acked if got[mid] == 0]
            duplicates = {mid: n for mid, n in got.items() if n > 1}
            extra_deliveries = sum(n - 1 for n in duplicates.values())
            finals = final_records(mta)
            bounced = [r for rs in finals.values() for r in rs if r["type"] == "b"]
            figures("crash_loop", seed=seed, rounds=ROUNDS, messages_per_round=MESSAGES,
                    acknowledged=len(acked), delivered_unique=sum(1 for mid in acked if got[mid]),
                    lost=len(missing), duplicate_messages=len(duplicates),
                    extra_deliveries=extra_deliveries, bounced=len(bounced),
                    spool_left=summary["messages"], damaged=summary["damaged"],
                    max_smtp_out=MAX_SMTP_OUT, kills=kills)
            assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:5]}"
            assert not bounced, f"unexpected bounces: {bounced[:3]}"
            assert summary["damaged"] == 0
            assert summary["messages"] == 0, f"left in the spool: {messages[:3]}"
            # In flight at each kill: at most max-smtp-out transactions per active queue (the
            # round's own and, at worst, the previous round's still-draining one).
            assert extra_deliveries <= ROUNDS * 2 * MAX_SMTP_OUT, duplicates
            # Every acknowledged recipient has a final record; none has two d records unless the
            # simulator really got its message twice.
            for mid, rcpt in acked.items():
                ds = [r for r in finals[rcpt] if r["type"] == "d"]
                assert 1 <= len(ds) <= got[mid], (mid, rcpt, len(ds), got[mid])
        finally:
            mta.close()
