"""Runs outpost_exporter for integration tests and reads its /metrics."""
import os
import re
import select
import signal
import subprocess
import time
import urllib.request

# Label values may hold braces (vmta="{default}"), so a label block is quoted strings and the
# characters between them.
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def binary():
    return os.path.join(os.environ.get("OUTPOST_BIN", "build/bin"), "outpost_exporter")


def find_testdata_dir():
    """tests/data of the source tree: the accounting fixtures (tests/data/README.md)."""
    src = os.environ.get("OUTPOST_SOURCE", ".")
    return os.path.normpath(os.path.join(src, "tests", "data"))


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = frozenset(_LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def total(samples, name, **want):
    """Sum of `name` over samples whose labels include `want`."""
    s = 0.0
    for (n, labels), v in samples.items():
        if n == name and all((k, w) in labels for k, w in want.items()):
            s += v
    return s


class Exporter:
    def __init__(self, args):
        self.args = [binary(), "--listen", "127.0.0.1:0"] + list(args)
        self.proc = None
        self.port = None

    def start(self, deadline_s=20):
        self.proc = subprocess.Popen(self.args, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            r, _, _ = select.select([self.proc.stderr], [], [], 0.5)
            if r:
                line = self.proc.stderr.readline()
                if not line:
                    break
                m = re.search(r"listening on http://[^:]+:(\d+)/metrics", line)
                if m:
                    self.port = int(m.group(1))
                    return self
        raise RuntimeError("exporter did not start: rc=%s" % self.proc.poll())

    def url(self):
        return "http://127.0.0.1:%d/metrics" % self.port

    def scrape_text(self):
        with urllib.request.urlopen(self.url(), timeout=10) as r:
            return r.read().decode()

    def scrape(self):
        return parse_metrics(self.scrape_text())

    def wait_for(self, predicate, deadline_s=60, what="condition"):
        """Scrapes until predicate(samples) holds; short select() pauses between scrapes."""
        end = time.monotonic() + deadline_s
        last = None
        while time.monotonic() < end:
            last = self.scrape()
            if predicate(last):
                return last
            select.select([], [], [], 0.05)
        summary = {k[0]: v for k, v in (last or {}).items()
                   if k[0].startswith("outpost_exporter_") or k[0] == "outpost_acct_records_total"}
        raise AssertionError("timed out waiting for %s; last scrape: %s" % (what, summary))

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()


# Accounting test records (PowerMTA's column order), shared by the exporter's fault tests.
ACCT_HEADER = ("type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,"
               "bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,"
               "dlvSize,vmta,jobId,envId,queue,vmtaPool\r\n")


def acct_record(i):
    """Record number i, distinct from every other: a bounce for every tenth, else a delivery."""
    kind = "b" if i % 10 == 0 else "d"
    cat = "bad-mailbox" if kind == "b" else "success"
    return (f'{kind},2025-11-22 10:{(i // 60) % 60:02d}:{i % 60:02d}+0000,2025-11-22 10:00:00+0000,'
            f'news@example.com,user{i}@gmail.com,,relayed,2.0.0 (success),"smtp;250 ok, id {i}",'
            f'mx (192.0.2.1),{cat},smtp,app (198.51.100.1),smtp,203.0.113.{i % 4},192.0.2.1,'
            f'"PIPELINING,SIZE",{1000 + i},vmta{i % 3},job,,gmail.com/vmta{i % 3},pool1\r\n')
