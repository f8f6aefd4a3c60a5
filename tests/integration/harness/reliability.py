"""Helpers for the reliability tests (tests/integration/test_reliability_*.py).

* seeded(): the run's random generator, seeded from OUTPOST_RELIABILITY_SEED (or a fresh seed),
  with the seed printed so a failing run can be replayed.
* figures(name, **values): records a test's figures (what was tried, how many times, what was
  lost) as JSON in $OUTPOST_RELIABILITY_REPORT/<name>.json when that directory is set
  (scripts/reliability.sh renders them into docs/reliability.md), and prints them.
* sim_ids(sim): Message-ID -> times the ISP simulator answered 250 for it.
* final_records(mta): recipient -> its d/b records in the accounting file.
"""
import collections
import json
import os
import random

from harness.delivery import records


def seeded(label):
    seed = int(os.environ.get("OUTPOST_RELIABILITY_SEED", random.SystemRandom().randrange(1 << 31)))
    print(f"{label}: seed {seed} (replay with OUTPOST_RELIABILITY_SEED={seed})")
    return seed, random.Random(seed)


def figures(name, **values):
    print(f"figures {name}: {json.dumps(values, sort_keys=True)}")
    directory = os.environ.get("OUTPOST_RELIABILITY_REPORT")
    if directory:
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, name + ".json"), "w") as f:
            json.dump(values, f, indent=1, sort_keys=True)


def sim_ids(sim):
    return collections.Counter(sim.stats()["message_ids"])


def final_records(mta):
    out = collections.defaultdict(list)
    for r in records(mta):
        if r["type"] in ("d", "b"):
            out[r["rcpt"]].append(r)
    return out
