#!/usr/bin/env python3
"""HTTP submission vs SMTP injection into the same outpostd, same messages, same run.

One outpostd (durable spool, mail held: every domain routes to a closed port with retry-after 1h)
takes MESSAGES messages of SIZE octets (one recipient each) over THREADS keep-alive HTTP
connections to POST /api/v1/transmissions, then the same messages over THREADS SMTP sessions
(smtplib), alternating, REPS times each. Both clients are Python in this process, so the figures
compare the two paths under the same client overhead (not either path's ceiling). Prints one line
per run, the medians and http/smtp; with --json also a last line of JSON (bench/run).
Usage: bench/http_submit.py [--json] [MESSAGES=2000] [REPS=3] [THREADS=8] [SIZE=4096]
Env: OUTPOST_BIN (build/bin).
"""
import http.client
import json
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "bench-key-0123456789abcdef"


def start_outpostd(work, bin_dir):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    keys = os.path.join(work, "keys")
    with open(keys, "w") as f:
        f.write(f"bench {KEY}\n")
    conf = os.path.join(work, "outpost.conf")
    with open(conf, "w") as f:
        f.write(f"smtp-listener 127.0.0.1:0\nspool {work}/spool\nhost-name bench.test\n"
                f"log-file {work}/outpostd.log\nrun-as-root yes\nhttp-mgmt-port 127.0.0.1:0\n"
                f"http-access 127.0.0.1 admin\nhttp-api-key-file {keys}\n"
                f"max-queued-recipients 0\n"
                f"<source 127.0.0.1>\n  always-allow-relaying yes\n</source>\n"
                f"<domain *>\n  route [127.0.0.1]:{closed.getsockname()[1]}\n"
                f"  retry-after 1h\n</domain>\n")
    ports = os.path.join(work, "ports")
    proc = subprocess.Popen([os.path.join(bin_dir, "outpostd"), "--config", conf,
                             "--port-file", ports])
    deadline = time.monotonic() + 30
    while not os.path.exists(ports):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("outpostd did not start: see " + work + "/outpostd.log")
        time.sleep(0.05)
    found = {}
    for line in open(ports):
        kind, _, address = line.strip().partition(" ")
        found.setdefault(kind, address)
    return proc, closed, found


def message(i, size):
    head = f"From: bench@example.com\r\nTo: sink@example.net\r\nSubject: bench {i}\r\n\r\n"
    return head + ("x" * 78 + "\r\n") * max(1, (size - len(head)) // 80)


def run_threads(threads, work):
    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.monotonic() - t0


def http_run(address, n, threads, size):
    host, port = address.rsplit(":", 1)
    failures = []

    def work(t):
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        for i in range(t, n, threads):
            body = json.dumps({"recipients": ["sink@example.net"], "return_path": "bench@example.com",
                               "content": {"email_rfc822": message(i, size)}})
            conn.request("POST", "/api/v1/transmissions", body=body,
                         headers={"Authorization": "Bearer " + KEY,
                                  "Content-Type": "application/json"})
            res = conn.getresponse()
            res.read()
            if res.status != 200:
                failures.append(res.status)
        conn.close()

    elapsed = run_threads(threads, work)
    if failures:
        raise SystemExit(f"http: {len(failures)} submissions failed: {failures[:5]}")
    return elapsed


def smtp_run(address, n, threads, size):
    host, port = address.rsplit(":", 1)

    def work(t):
        with smtplib.SMTP(host, int(port), timeout=60) as c:
            for i in range(t, n, threads):
                c.sendmail("bench@example.com", ["sink@example.net"], message(i, size))

    return run_threads(threads, work)


def main(argv):
    as_json = "--json" in argv
    args = [a for a in argv if a != "--json"]
    n, reps, threads, size = [int(x) for x in (args + ["2000", "3", "8", "4096"][len(args):])]
    bin_dir = os.environ.get("OUTPOST_BIN", os.path.join(ROOT, "build/bin"))
    with tempfile.TemporaryDirectory(prefix="outpost-bench-http-", dir="/var/tmp") as work:
        proc, closed, ports = start_outpostd(work, bin_dir)
        rates = {"http": [], "smtp": []}
        try:
            for rep in range(1, reps + 1):
                for path, run, address in (("http", http_run, ports["http"]),
                                           ("smtp", smtp_run, ports["smtp"])):
                    elapsed = run(address, n, threads, size)
                    rate = n / elapsed
                    rates[path].append(round(rate))
                    print(f"rep {rep} {path}: {n} msgs in {elapsed:.3f}s = {rate:.0f} msg/s",
                          flush=True)
        finally:
            proc.terminate()
            proc.wait(30)
            closed.close()
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"median http {med['http']:.0f} msg/s, smtp {med['smtp']:.0f} msg/s, "
          f"http/smtp {med['http'] / med['smtp']:.2f}")
    if as_json:
        print(json.dumps({"messages": n, "threads": threads, "size": size, **rates}))


if __name__ == "__main__":
    main(sys.argv[1:])
