#!/usr/bin/env python3
"""Time to recover: how long outpostd takes to restart with RECIPIENTS queued recipients in its spool.

Fill: a fresh outpostd whose every domain is routed to a loopback port that refuses (bound, never
listening) with retry-after 1h, so nothing is ever delivered; outpost-load injects RECIPIENTS
recipients (RCPTS per message, 1 KB messages, 10 domains). outpostd is then stopped (SIGTERM).
Measure, RESTARTS times on the same spool: start outpostd and time until its port file appears.
outpostd writes the port file after the spool has been recovered into the queues and the SMTP
listener is bound, so that is "ready to accept and deliver". The log's "recovered N messages (R
recipients pending)" line is checked against what was injected; the RSS after recovery and the
stop time are recorded too. The page cache is warm (the spool was just written): this is the time
of a restart, not of a cold boot.

usage: recovery.py --bin DIR [--recipients 1000000] [--rcpts 100] [--restarts 3] [--work DIR]
Prints progress lines, then one JSON object as the last line.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def wait_for(cond, deadline_s, step=0.005):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return False


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def du_bytes(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--recipients", type=int, default=1000000)
    ap.add_argument("--rcpts", type=int, default=100)
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--work", default="/var/tmp")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="outpost-recovery-", dir=args.work)
    refuser = socket.socket()
    refuser.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    refuse_port = refuser.getsockname()[1]
    conf = os.path.join(work, "outpost.conf")
    log = os.path.join(work, "outpostd.log")
    ports = os.path.join(work, "ports")
    with open(conf, "w") as f:
        f.write(f"""smtp-listener 127.0.0.1:0
# Benchmarks run as root and keep it (no unprivileged user to set up).
run-as-root yes
spool {work}/spool
log-file {log}
spool-min-free 256M
<source 127.0.0.1>
  always-allow-relaying yes
</source>
<acct-file {work}/acct.csv>
  records d,b,t,tq
</acct-file>
<domain *>
  route [127.0.0.1]:{refuse_port}
  retry-after 1h
  bounce-after 10d
</domain>
""")
    daemon = None

    def start():
        if os.path.exists(ports):
            os.unlink(ports)
        offset = os.path.getsize(log) if os.path.exists(log) else 0
        t0 = time.monotonic()
        p = subprocess.Popen([os.path.join(args.bin, "outpostd"), "--config", conf, "--port-file", ports])
        if not wait_for(lambda: os.path.exists(ports) or p.poll() is not None, 1800):
            raise SystemExit("outpostd did not become ready in 30 min")
        if p.poll() is not None:
            raise SystemExit("outpostd exited with %d (see %s)" % (p.returncode, log))
        return p, time.monotonic() - t0, offset

    def stop(p):
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=600)
        return time.monotonic() - t0

    try:
        daemon, _, _ = start()
        smtp = open(ports).read().split()[1]
        domains = ",".join("d%d.test:1" % i for i in range(10))
        messages = max(1, args.recipients // args.rcpts)
        t0 = time.monotonic()
        out = subprocess.run([os.path.join(args.bin, "outpost-load"), "--sessions", "10", "--messages",
                              str(messages), "--rcpts", str(args.rcpts), "--size", "1k", "--domains",
                              domains, "--json", smtp], check=True, capture_output=True, text=True).stdout
        fill_s = time.monotonic() - t0
        accepted = json.loads(out)["recipients_accepted"]
        print("filled: %d recipients accepted (%d messages x %d) in %.1f s" %
              (accepted, messages, args.rcpts, fill_s), flush=True)
        wait_for(lambda: open(log).read().count("connection failed") >= 10, 60, 0.05)
        stop(daemon)
        daemon = None
        spool_bytes = du_bytes(os.path.join(work, "spool"))
        runs = []
        for i in range(args.restarts):
            daemon, ready_s, offset = start()
            with open(log) as f:
                f.seek(offset)
                text = f.read()
            m = re.search(r"recovered (\d+) messages \((\d+) recipients pending\)", text)
            rec_msgs, rec_rcpts = (int(m.group(1)), int(m.group(2))) if m else (None, None)
            rss = status_kib(daemon.pid, "VmRSS")
            stop_s = stop(daemon)
            daemon = None
            runs.append({"ready_s": round(ready_s, 4), "recovered_messages": rec_msgs,
                         "recovered_recipients": rec_rcpts, "rss_kib": rss, "stop_s": round(stop_s, 4)})
            print("restart %d: ready in %.3f s; recovered %s messages, %s recipients pending; "
                  "RSS %d KiB; stop %.3f s" % (i + 1, ready_s, rec_msgs, rec_rcpts, rss, stop_s), flush=True)
            if rec_rcpts is None or rec_rcpts < accepted:
                raise SystemExit("recovery reported %s recipients pending, %d were queued" % (rec_rcpts, accepted))
        print(json.dumps({"scenario": "recovery", "recipients": accepted, "messages": messages,
                          "rcpts_per_message": args.rcpts, "fill_s": round(fill_s, 3),
                          "spool_bytes": spool_bytes, "runs": runs}))
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        refuser.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
