#!/usr/bin/env python3
"""Injection while the spool compacts, against injection with compaction off (same run,
alternating): is compaction fair to injection? Target: at least 0.8x.

A template spool is made once: outpostd (compaction off) takes PREP messages of 4 KB, 7 in 10
addressed to a domain routed to Postfix's smtp-sink (delivered at once) and 3 in 10 to a domain
routed to a closed loopback port (deferred for an hour), and is stopped when the delivered ones
are done. That spool holds about 30 % live entries in every segment: all of it to compact.

Each repetition copies the template, starts outpostd on it with compaction on (default rate,
threshold 50 %, no minimum age) or off, and at once injects MESSAGES messages of 4 KB with
smtp-source (20 sessions) to the deferred domain, timing the injection. The "on" runs report how
many bytes compaction copied while the injection ran (from /status.json), to show it was busy.

Usage: bench/compaction.py [--messages N] [--prep N] [--reps N] [--rate SIZE] [--json]
Env: OUTPOST_BIN (default build/bin).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("OUTPOST_BIN", os.path.join(ROOT, "build", "bin"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)  # polling interval of a benchmark driver, not a timing assumption


class Outpostd:
    def __init__(self, work, sink_port, threshold, rate):
        self.work = work
        os.makedirs(work, exist_ok=True)
        self.ports = os.path.join(work, "ports")
        self.config = os.path.join(work, "outpost.conf")
        with open(self.config, "w") as f:
            f.write(f"""smtp-listener 127.0.0.1:0
http-mgmt-port 127.0.0.1:0
spool {work}/spool
log-file {work}/outpostd.log
spool-min-free 256M
# Its files are in the work directory of whoever runs it, so it keeps that user.
run-as-root yes
spool-segment-size 16M
spool-compaction-threshold {threshold}
spool-compaction-rate {rate}
spool-compaction-min-age 0s
<source 127.0.0.1>
  always-allow-relaying yes
</source>
<acct-file {work}/acct.csv>
  records d
</acct-file>
dns-server 127.0.0.1:9
<domain sink.test>
  route [127.0.0.1]:{sink_port}
  max-smtp-out 20
</domain>
<domain *>
  route [127.0.0.1]:9
  retry-after 1h
</domain>
""")
        self.proc = None

    def start(self):
        if os.path.exists(self.ports):
            os.unlink(self.ports)
        self.proc = subprocess.Popen([os.path.join(BIN, "outpostd"), "--config", self.config,
                                      "--port-file", self.ports])
        def addresses():
            if not os.path.exists(self.ports):
                return None
            found = {}
            with open(self.ports) as f:
                for line in f:
                    kind, _, addr = line.strip().partition(" ")
                    found[kind] = addr
            return found if "smtp" in found and "http" in found else None
        addrs = wait(addresses, 30, "outpostd ports")
        self.smtp = addrs["smtp"]
        self.http = addrs["http"]

    def status(self):
        with urllib.request.urlopen(f"http://{self.http}/status.json", timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def make_template(work, prep, sink_port):
    mta = Outpostd(os.path.join(work, "template"), sink_port, "0", "0")
    mta.start()
    subprocess.run([os.path.join(BIN, "outpost-load"), "--sessions", "20", "--messages",
                    str(prep), "--size", "4k", "--domains", "sink.test:7,held.test:3", mta.smtp],
                   check=True, stdout=subprocess.DEVNULL)

    def settled():  # every message delivered (a d record) or queued, as far as outpostd knows
        with open(os.path.join(mta.work, "acct.csv")) as f:
            delivered = sum(1 for line in f if line.startswith("d,"))
        return delivered > 0 and delivered + mta.status()["queue"]["recipients"] == prep
    wait(settled, 600, "delivered mail done")
    s = mta.status()["spool"]
    mta.stop()
    return os.path.join(work, "template", "spool"), s


def run_one(work, template, sink_port, on, messages, rate):
    d = os.path.join(work, "on" if on else "off")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    shutil.copytree(template, os.path.join(d, "spool"))
    mta = Outpostd(d, sink_port, "50%" if on else "0", rate)
    mta.start()
    before = mta.status()["spool"]
    t0 = time.monotonic()
    subprocess.run(["smtp-source", "-s", "20", "-m", str(messages), "-l", "4096", "-f",
                    "bench@example.com", "-t", "x@held.test", mta.smtp], check=True)
    elapsed = time.monotonic() - t0
    after = mta.status()["spool"]
    mta.stop()
    return {"rate": messages / elapsed,
            "copied_during": after["compaction_bytes_copied"] - before["compaction_bytes_copied"],
            "compactions_during": after["compactions"] - before["compactions"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--prep", type=int, default=60000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rate", default="16M")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="outpost-bench-compaction-", dir="/var/tmp")
    sink_port = free_port()
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", f"127.0.0.1:{sink_port}", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        template, prep_spool = make_template(work, a.prep, sink_port)
        print(f"template: {prep_spool['bytes'] / 1e6:.1f} MB of segments, "
              f"{prep_spool['live_bytes'] / 1e6:.1f} MB live ({prep_spool['entries']} messages)")
        runs = {"on": [], "off": []}
        for rep in range(a.reps):
            order = [True, False] if rep % 2 == 0 else [False, True]
            for on in order:
                r = run_one(work, template, sink_port, on, a.messages, a.rate)
                runs["on" if on else "off"].append(r)
                print(f"rep {rep + 1} compaction {'on ' if on else 'off'}: {r['rate']:.0f} msg/s"
                      + (f" ({r['copied_during'] / 1e6:.1f} MB copied, "
                         f"{r['compactions_during']} segments compacted meanwhile)" if on else ""))
        on = statistics.median(r["rate"] for r in runs["on"])
        off = statistics.median(r["rate"] for r in runs["off"])
        print(f"median with compaction: {on:.0f} msg/s; without: {off:.0f} msg/s; "
              f"ratio {on / off:.2f}")
        if a.json:
            print(json.dumps({"scenario": "compaction", "messages": a.messages, "prep": a.prep,
                              "rate": a.rate, "template_bytes": prep_spool["bytes"],
                              "template_live_bytes": prep_spool["live_bytes"],
                              "on": runs["on"], "off": runs["off"], "ratio": on / off}))
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
