"""bench/run --smoke: the whole benchmark harness works end to end at tiny sizes.

Runs `bench/run --smoke --no-install --out TMP` against the built binaries (so the repository's
bench/RESULTS.md is never touched) and checks that every scenario ran and produced figures, that
results.json, RESULTS.md and the PNG plots were written, and that the figures are sane (positive
rates, recovery reporting every queued recipient). The smoke mode checks the harness, not the
performance targets: a target missed on a loaded CI machine is reported, not failed.
Needs the peers the harness uses (Postfix's smtp-source/smtp-sink, mtail, wrk, gnuplot, root for
the throwaway Postfix instance); skipped when they are absent.
"""
import json
import os
import shutil
import subprocess

import pytest

SOURCE = os.environ.get("OUTPOST_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("OUTPOST_BIN", os.path.join(SOURCE, "build", "bin"))
SCENARIOS = ["dkim", "exporter", "inject", "relay", "rss", "recovery", "mgmt", "relay_sessions", "relay_sizes",
             "compaction", "relay_dkim", "http_submit"]


def _missing():
    missing = [c for c in ("smtp-source", "smtp-sink", "postfix", "mtail", "wrk", "gnuplot", "curl")
               if not shutil.which(c) and not os.path.exists("/usr/sbin/" + c)]
    if os.geteuid() != 0:
        missing.append("root (the Postfix peer)")
    return missing


@pytest.mark.skipif(bool(_missing()), reason="benchmark peers missing: %s" % " ".join(_missing()))
def test_bench_smoke(tmp_path):
    out = tmp_path / "out"
    logs = tmp_path / "logs"
    p = subprocess.run([os.path.join(SOURCE, "bench", "run"), "--smoke", "--no-install", "--bin", BIN,
                        "--out", str(out), "--logs", str(logs)],
                       cwd=SOURCE, capture_output=True, text=True, timeout=540)
    assert p.returncode == 0, "bench/run --smoke failed:\n%s\n%s" % (p.stdout[-4000:], p.stderr[-4000:])

    results = json.loads((out / "results.json").read_text())
    assert results["mode"] == "smoke"
    assert results["failures"] == []
    sc = results["scenarios"]
    cases = [
        ("every scenario ran", sorted(sc), sorted(SCENARIOS)),
        ("inject: outpostd rate > 0", sc["inject"]["outpostd"]["median"] > 0, True),
        ("inject: Postfix rate > 0", sc["inject"]["postfix"]["median"] > 0, True),
        ("relay: three paths measured", all(sc["relay"][k]["n"] == 1 for k in ("direct", "postfix", "outpostd")), True),
        ("relay: ceiling fraction computed", sc["relay"]["fraction_of_ceiling"] > 0, True),
        ("sessions curve has 2 points", [x["sessions"] for x in sc["relay_sessions"]["points"]], [1, 5]),
        ("sizes curve has 2 points", [x["size"] for x in sc["relay_sizes"]["points"]], [1024, 102400]),
        ("rss: both sizes", [x["recipients"] for x in sc["rss"]["points"]], [1000, 10000]),
        ("recovery: every recipient recovered",
         sc["recovery"]["runs"][0]["recovered_recipients"] >= sc["recovery"]["recipients"] > 0, True),
        ("recovery: time measured", sc["recovery"]["ready_s"]["median"] > 0, True),
        ("exporter: mtail ratio", sc["exporter"]["vs_mtail"] > 0, True),
        ("mgmt: p99 parsed", sc["mgmt"]["p99_ms"]["median"] > 0, True),
        ("http_submit: both paths measured, ratio computed",
         sc["http_submit"]["http"]["median"] > 0 and sc["http_submit"]["ratio"] > 0, True),
        ("dkim: RSA fraction", sc["dkim"]["rsa2048"]["fraction"] > 0, True),
        ("relay_dkim: signed and unsigned measured, ratio computed",
         sc["relay_dkim"]["signed"]["n"] == 1 and sc["relay_dkim"]["unsigned"]["n"] == 1 and
         sc["relay_dkim"]["ratio"] > 0 and sc["relay_dkim"]["signed_cores"]["median"] > 0, True),
        ("compaction: both rates", sc["compaction"]["with"]["median"] > 0 and
         sc["compaction"]["without"]["median"] > 0, True),
    ]
    for label, got, want in cases:
        assert got == want, label

    md = (out / "RESULTS.md").read_text()
    for heading in ("## Summary", "## Machine", "## Relay end to end", "## Time to recover",
                    "## Memory per queued recipient", "bench/relay.sh",
                    "## Injection while the spool compacts", "## DKIM-signed relay"):
        assert heading in md, heading
    for png in ("summary.png", "relay_sessions.png", "relay_sizes.png", "rss.png"):
        data = (out / "plots" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, png
