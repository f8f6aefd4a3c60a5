#!/usr/bin/env python3
"""The whole Outpost monitoring stack on loopback: outpost-isp-sim, outpostd, outpost_exporter,
Prometheus, Alertmanager and a webhook receiver, plus an outpost-load workload that makes one
provider (Gmail) defer.

Used two ways:
* `python3 scripts/stack.py` (what scripts/demo.sh runs): starts everything on fixed, well-known
  loopback ports (2525, 8080, 9469, 9090, 9093; a port already taken is a clear error, and 0 picks
  a free one), prints the URLs, and stops everything on Ctrl-C.
* `from stack import Stack` (tests/integration/test_stack_e2e.py): the same processes on free
  ports in a temp dir; the test drives the scenario (recover()) and reads the webhook's record.

What it sets up:
* isp-sim: gmail.com defers 30 % of recipients with Gmail's `421-4.7.28` rate-limit reply,
  yahoo.com bounces 2 % (`550 5.1.1`, a hard bounce), everything else accepts. recover()
  restarts it on the same port without the deferrals ("the ISP stops deferring").
* outpostd: every domain routed to the simulator, two virtual MTAs (source 127.0.0.1 and
  127.0.0.2) in a pool, an smtp-pattern-list that puts a queue into backoff on 421 4.7.28,
  short retry intervals so the demo moves, the management API (status, console) on loopback;
  a bounce processor and a feedback-loop processor at bounce.outpost.localhost, fed one bounce
  and one complaint (samples from tests/data/returnpath/) once it is up, so the return-path
  panels, rules and /status.json "returnpath" have data.
* outpost_exporter: tails the accounting files, reads /status.json at scrape time.
* Prometheus: scrapes the exporter every second (job "outpost"), evaluates the rules every second.
  By default it loads a *time-scaled copy* of alert-rules/outpost.rules.yml in which every range
  window, `offset` and `for:` is divided by --time-factor (30: [5m] -> [10s], for: 10m -> 20s)
  so alerts fire within a minute; --time-factor 1 uses the production rules unchanged.
* Alertmanager: alert-rules/alertmanager.yml's routing tree, grouping and inhibition unchanged,
  with every receiver's PagerDuty/Slack configs replaced by a webhook to the local receiver (no
  secret needed; the receiver name still says where the alert would have gone), and short
  group_wait/group_interval when time-scaled. Clustering is off (no listener besides the web one).
* The webhook receiver (in this process) records every notification and, in the demo, prints it.

Every wait is on a condition with a deadline (a port file, an HTTP answer), never a fixed sleep.
Data lives in one work directory (a temp dir unless --workdir); each process logs to a file there.
"""
import argparse
import http.server
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GMAIL_DEFERRAL = ('"421-4.7.28 [127.0.0.1] Our system has detected an unusual rate of\\n'
                  '421 4.7.28 unsolicited mail originating from your IP address."')
YAHOO_BOUNCE = '"550 5.1.1 <user@yahoo.com>: Recipient address rejected: User unknown"'
LOAD_DOMAINS = "gmail.com:40,outlook.com:25,yahoo.com:20,example.org:15"

DEMO_PORTS = {"smtp": 2525, "http": 8080, "metrics": 9469, "prometheus": 9090,
              "alertmanager": 9093}


class StackError(RuntimeError):
    pass


def wait_for(predicate, timeout, what):
    """Polls predicate() until it returns a truthy value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        select.select([], [], [], 0.05)  # bounded wait between polls, not a timing sleep


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def port_is_free(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago, for programs that cannot listen on port 0 and report
    the port (Prometheus, Alertmanager, Postfix). It is drawn from outside the kernel's ephemeral
    range, so that no outgoing connection and no port-0 listener of a test running beside us can
    take it between now and the program's bind(); a clash with another such pick is rare, and
    the callers that start a program on it retry with another port (start_on_free_port)."""
    low, high = _ephemeral_range()
    span = (10000, low - 1) if low > 11000 else (high + 1, 65535)
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(*span)
        if port_is_free(host, port):
            return port
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_on_free_port(start, port=0, attempts=5):
    """Calls start(port) (which starts a program listening on that port and waits until it is
    ready, raising StackError if it exited) and returns the port. With port 0 a free port is
    chosen, and chosen again if the program lost the race for it ("address already in use")."""
    if port:
        start(port)
        return port
    for attempt in range(attempts):
        port = free_port()
        try:
            start(port)
            return port
        except StackError as e:
            if "address already in use" not in str(e) or attempt == attempts - 1:
                raise


_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _scale(duration_text, factor):
    seconds = sum(int(n) * _UNIT[u] for n, u in _DURATION.findall(duration_text))
    return f"{max(1, round(seconds / factor))}s"


def time_scaled_rules(text, factor):
    """The rules file with every range window, offset and `for:` divided by `factor`."""
    if factor == 1:
        return text
    text = re.sub(r"\[((?:\d+[smhd])+)\]", lambda m: f"[{_scale(m.group(1), factor)}]", text)
    text = re.sub(r"\boffset ((?:\d+[smhd])+)", lambda m: f"offset {_scale(m.group(1), factor)}",
                  text)
    text = re.sub(r"(\bfor: )((?:\d+[smhd])+)", lambda m: m.group(1) + _scale(m.group(2), factor),
                  text)
    return ("# GENERATED by scripts/stack.py from alert-rules/outpost.rules.yml: durations divided"
            f" by {factor}. Test/demo only.\n" + text)


def webhook_alertmanager_config(production_yaml_text, webhook_url, fast):
    """alertmanager.yml with each receiver's integrations replaced by one webhook."""
    import yaml  # python3-yaml (Debian)
    cfg = yaml.safe_load(production_yaml_text)
    for r in cfg.get("receivers", []):
        has_integration = any(k.endswith("_configs") for k in r)
        for k in [k for k in r if k.endswith("_configs")]:
            del r[k]
        if has_integration:
            r["webhook_configs"] = [{"url": webhook_url, "send_resolved": True}]
    if fast:
        route = cfg["route"]
        route.update({"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"})
        cfg.setdefault("global", {})["resolve_timeout"] = "10s"
    return yaml.safe_dump(cfg, sort_keys=False)


class WebhookReceiver:
    """Alertmanager webhook receiver on loopback; keeps every notification. Thread-safe."""

    def __init__(self, on_notification=None):
        self.notifications = []
        self.cond = threading.Condition()
        self.on_notification = on_notification
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"invalid": body.decode(errors="replace")}
                with owner.cond:
                    owner.notifications.append(payload)
                    owner.cond.notify_all()
                if owner.on_notification:
                    owner.on_notification(payload)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self):
        """[(receiver, status, alert)] for every alert of every notification so far."""
        with self.cond:
            return [(n.get("receiver"), a.get("status"), a) for n in self.notifications
                    for a in n.get("alerts", [])]

    def wait(self, predicate, timeout, what):
        """Waits until predicate(alerts()) is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate([(n.get("receiver"), a.get("status"), a)
                                   for n in self.notifications for a in n.get("alerts", [])])
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
                self.cond.wait(left)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Proc:
    """One child process, logging to a file, in its own session (Ctrl-C reaches only us)."""

    def __init__(self, name, args, log_path, env=None):
        self.name, self.args, self.log_path = name, args, log_path
        self.log = open(log_path, "ab")
        self.popen = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True, env=env)

    def check_alive(self):
        if self.popen.poll() is not None:
            raise StackError(f"{self.name} exited with status {self.popen.returncode}; "
                             f"last lines of {self.log_path}:\n{self.tail()}")
        return True

    def tail(self, lines=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout=15.0):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self.log.close()


class Workspace:
    """A working directory (self.dir) holding the logs of the programs started from self.bin_dir
    (kept in self.procs by name). Shared by Stack and scripts/fleet.py's Fleet."""

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def binary(self, name):
        p = os.path.join(self.bin_dir, name)
        if not os.access(p, os.X_OK):
            raise StackError(f"{p} is not built (cmake --build build --target {name})")
        return p

    def _start(self, name, args):
        old = self.procs.pop(name, None)
        if old:  # a start retried on another port: the first one has exited
            old.stop()
        self.procs[name] = Proc(name, args, self.path(f"{name}.log"))
        return self.procs[name]

    def _wait_ready(self, proc, url, what):
        def ready():
            proc.check_alive()
            try:
                return http_get(url, timeout=2)[0] == 200
            except (urllib.error.URLError, OSError):
                return False
        wait_for(ready, 60, f"{what} ready at {url}")


class Stack(Workspace):
    """The processes of one stack. Not thread-safe: one owner starts and stops it."""

    def __init__(self, bin_dir=None, workdir=None, ports=None, time_factor=30,
                 scrape_interval="1s", retry_after="5s", on_notification=None,
                 gmail_defer_ratio="0.3"):
        self.bin_dir = bin_dir or os.environ.get("OUTPOST_BIN", os.path.join(ROOT, "build/bin"))
        self.owned_tmp = None
        if workdir is None:
            self.owned_tmp = tempfile.mkdtemp(prefix="outpost-stack-")
            workdir = self.owned_tmp
        os.makedirs(workdir, exist_ok=True)
        self.dir = os.path.abspath(workdir)
        self.ports = {k: 0 for k in DEMO_PORTS}
        self.ports.update(ports or {})
        self.time_factor = time_factor
        self.scrape_interval = scrape_interval
        self.retry_after = retry_after
        self.gmail_defer_ratio = gmail_defer_ratio
        self.on_notification = on_notification
        self.procs = {}
        self.webhook = None
        self.refuser = None
        self.sim_smtp_port = None

    # ---- helpers -----------------------------------------------------------------------------

    def _check_ports(self):
        """Fixed ports must be free (0: the program's start picks one)."""
        busy = [f"{k} {v}" for k, v in self.ports.items() if v and not port_is_free("127.0.0.1", v)]
        if busy:
            raise StackError("port(s) already in use on 127.0.0.1: " + ", ".join(busy) +
                             " (another demo running? pass other ports, or 0 for any free port)")

    # ---- components --------------------------------------------------------------------------
    def sim_config(self, deferring):
        listen = f"127.0.0.1:{self.sim_smtp_port or 0}"
        gmail = (f"<domain gmail.com>\n  defer-ratio {self.gmail_defer_ratio} {GMAIL_DEFERRAL}\n"
                 f"</domain>\n") if deferring else ""
        return (f"listen {listen}\nstats-listen 127.0.0.1:0\nhostname mx.isp-sim.test\n{gmail}"
                f"<domain yahoo.com>\n  bounce-ratio 0.02 {YAHOO_BOUNCE}\n</domain>\n"
                f"<domain *> accept </domain>\n")

    def start_sim(self, deferring=True):
        conf = self.path("isp-sim.conf")
        with open(conf, "w") as f:
            f.write(self.sim_config(deferring))
        port_file = self.path("isp-sim.ports")
        if os.path.exists(port_file):
            os.unlink(port_file)
        p = self._start("isp-sim", [self.binary("outpost-isp-sim"), "--config", conf,
                                    "--port-file", port_file])
        wait_for(lambda: p.check_alive() and os.path.exists(port_file), 20, "isp-sim port file")
        with open(port_file) as f:
            ports = json.load(f)
        self.sim_smtp_port = int(ports["smtp"].rsplit(":", 1)[1])
        self.sim_stats_url = f"http://{ports['stats']}/stats"

    def outpostd_config(self):
        # DNS is never needed (every domain has a route); point it at a loopback port we hold
        # bound but never listen on, so nothing outside the machine is ever asked.
        dns_port = self.refuser.getsockname()[1]
        return f"""# Generated by scripts/stack.py (demo / end-to-end test). Loopback only.
smtp-listener 127.0.0.1:{self.ports['smtp']}
http-mgmt-port 127.0.0.1:{self.ports['http']}
http-access 127.0.0.1 admin
spool {self.path('spool')}
host-name outpost.localhost
log-file {self.path('outpostd-operational.log')}
spool-min-free 64M
dns-server 127.0.0.1:{dns_port}
# Its files are in the work directory of whoever runs it, so it keeps that user.
run-as-root yes

<source 127.0.0.1>
  always-allow-relaying yes
  process-x-virtual-mta yes
  process-x-job yes
  default-virtual-mta demo-pool
</source>
<source 0/0>
  always-allow-relaying no
</source>

<virtual-mta vmta1>
  smtp-source-host 127.0.0.1 mta1.outpost.localhost
</virtual-mta>
<virtual-mta vmta2>
  smtp-source-host 127.0.0.2 mta2.outpost.localhost
</virtual-mta>
<virtual-mta-pool demo-pool>
  virtual-mta vmta1
  virtual-mta vmta2
</virtual-mta-pool>

<smtp-pattern-list isp-errors>
  reply /^421[ -]4\\.7\\.28/ mode=backoff
</smtp-pattern-list>

relay-domain bounce.outpost.localhost
<bounce-processor>
  <address-list>
    domain bounce.outpost.localhost
  </address-list>
</bounce-processor>
<feedback-loop-processor>
  <address-list>
    address fbl@fbl.outpost.localhost
  </address-list>
</feedback-loop-processor>

<acct-file {self.path('acct.csv')}>
  records d,b,t,tq,r,rb,f
  move-interval 1h
  max-size 100M
</acct-file>

<domain *>
  route [127.0.0.1]:{self.sim_smtp_port}
  smtp-pattern-list isp-errors
  max-smtp-out 10
  retry-after {self.retry_after}
  backoff-retry-after {self.retry_after}
  backoff-max-smtp-out 4
  backoff-to-normal-after 1m
  bounce-after 1h
</domain>
"""

    def start_outpostd(self):
        self.refuser = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.refuser.bind(("127.0.0.1", 0))
        conf = self.path("outpost.conf")
        with open(conf, "w") as f:
            f.write(self.outpostd_config())
        check = subprocess.run([self.binary("outpostd"), "--check-config", conf],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise StackError(f"outpostd --check-config {conf} failed:\n{check.stdout}"
                             f"{check.stderr}")
        port_file = self.path("outpostd.ports")
        p = self._start("outpostd", [self.binary("outpostd"), "--config", conf,
                                     "--port-file", port_file])
        wait_for(lambda: p.check_alive() and os.path.exists(port_file), 30, "outpostd port file")
        with open(port_file) as f:
            for line in f:
                kind, _, address = line.strip().partition(" ")
                port = int(address.rsplit(":", 1)[1])
                if kind == "smtp":
                    self.ports["smtp"] = port
                elif kind == "http":
                    self.ports["http"] = port

    # (sample in tests/data/returnpath/, return-path address it is sent to)
    RETURN_PATH_SAMPLES = [("gmail-bounce.eml", "bounces+dave=gmail.com@bounce.outpost.localhost"),
                           ("arf-abuse.eml", "fbl@fbl.outpost.localhost")]

    def feed_return_path(self):
        """One remote bounce and one complaint, as a provider would send them."""
        import smtplib
        data = os.path.join(ROOT, "tests", "data", "returnpath")
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=10) as c:
            for name, recipient in self.RETURN_PATH_SAMPLES:
                with open(os.path.join(data, name)) as f:
                    c.sendmail("", [recipient], f.read())

    def start_exporter(self):
        fast = self.time_factor != 1
        args = [self.binary("outpost_exporter"),
                "--acct-path", self.path("acct*.csv"),
                "--state-file", self.path("exporter.state"),
                "--listen", f"127.0.0.1:{self.ports['metrics']}",
                "--status-url", f"http://127.0.0.1:{self.ports['http']}/status.json",
                "--from-start", "--state-interval", "0.5" if fast else "2"]
        p = self._start("outpost_exporter", args)
        pattern = re.compile(r"listening on http://[^\s]*:(\d+)/metrics")

        def listening():
            p.check_alive()
            m = pattern.search(open(p.log_path, errors="replace").read())
            return int(m.group(1)) if m else None
        self.ports["metrics"] = wait_for(listening, 20, "outpost_exporter listening")

    def start_alertmanager(self, config_text=None):
        """With `config_text`, that configuration; else the production one with every receiver
        replaced by self.webhook."""
        if config_text is None:
            with open(os.path.join(ROOT, "alert-rules", "alertmanager.yml")) as f:
                production = f.read()
            config_text = webhook_alertmanager_config(production, self.webhook.url,
                                                      fast=self.time_factor != 1)
        conf = self.path("alertmanager.yml")
        with open(conf, "w") as f:
            f.write(config_text)
        os.makedirs(self.path("alertmanager-data"), exist_ok=True)

        def start(port):
            p = self._start("alertmanager", [
                shutil.which("prometheus-alertmanager") or shutil.which("alertmanager") or
                "prometheus-alertmanager",
                f"--config.file={conf}", f"--storage.path={self.path('alertmanager-data')}",
                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="])
            self._wait_ready(p, f"http://127.0.0.1:{port}/-/ready", "Alertmanager")
        self.ports["alertmanager"] = start_on_free_port(start, self.ports["alertmanager"])

    def start_prometheus(self):
        with open(os.path.join(ROOT, "alert-rules", "outpost.rules.yml")) as f:
            rules = time_scaled_rules(f.read(), self.time_factor)
        rules_path = self.path("outpost.rules.yml")
        with open(rules_path, "w") as f:
            f.write(rules)
        conf = self.path("prometheus.yml")
        with open(conf, "w") as f:
            f.write(f"""# Generated by scripts/stack.py. Production scrape config: deploy/prometheus.yml.
global:
  scrape_interval: {self.scrape_interval}
  evaluation_interval: {self.scrape_interval}
rule_files:
  - {rules_path}
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:{self.ports['alertmanager']}']
scrape_configs:
  - job_name: outpost
    static_configs:
      - targets: ['127.0.0.1:{self.ports['metrics']}']
""")
        os.makedirs(self.path("prometheus-data"), exist_ok=True)

        def start(port):
            p = self._start("prometheus", [
                "prometheus", f"--config.file={conf}",
                f"--storage.tsdb.path={self.path('prometheus-data')}",
                f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1d",
                "--rules.alert.resend-delay=1s" if self.time_factor != 1 else
                "--rules.alert.resend-delay=1m"])
            self._wait_ready(p, f"http://127.0.0.1:{port}/-/ready", "Prometheus")
        self.ports["prometheus"] = start_on_free_port(start, self.ports["prometheus"])

    def start_load(self, rate=40, duration="24h", sessions=4):
        args = [self.binary("outpost-load"), "--sessions", str(sessions), "--rate", str(rate),
                "--duration", duration, "--domains", LOAD_DOMAINS, "--from", "news@demo.test",
                "--size", "2k", f"127.0.0.1:{self.ports['smtp']}"]
        self._start("outpost-load", args)

    # ---- lifecycle ---------------------------------------------------------------------------
    @property
    def prometheus_url(self):
        return f"http://127.0.0.1:{self.ports['prometheus']}"

    @property
    def alertmanager_url(self):
        return f"http://127.0.0.1:{self.ports['alertmanager']}"

    def urls(self):
        return {
            "web console": f"http://127.0.0.1:{self.ports['http']}/",
            "status API": f"http://127.0.0.1:{self.ports['http']}/status.json",
            "exporter /metrics": f"http://127.0.0.1:{self.ports['metrics']}/metrics",
            "Prometheus": self.prometheus_url,
            "Prometheus alerts": self.prometheus_url + "/alerts",
            "Alertmanager": self.alertmanager_url,
            "isp-sim stats": self.sim_stats_url,
            "SMTP (inject here)": f"127.0.0.1:{self.ports['smtp']}",
        }

    def start(self, load=True, load_rate=40):
        try:
            self._check_ports()
            self.webhook = WebhookReceiver(self.on_notification)
            self.start_sim(deferring=True)
            self.start_outpostd()
            self.feed_return_path()
            self.start_exporter()
            self.start_alertmanager()
            self.start_prometheus()
            if load:
                self.start_load(rate=load_rate)
        except BaseException:
            self.stop()
            raise
        return self

    def recover(self):
        """The ISP stops deferring: the simulator restarts, same port, without deferrals."""
        self.procs.pop("isp-sim").stop()
        self.start_sim(deferring=False)

    def stop(self):
        for name in ("outpost-load", "prometheus", "alertmanager", "outpost_exporter",
                     "outpostd", "isp-sim"):
            proc = self.procs.pop(name, None)
            if proc:
                proc.stop()
        if self.webhook:
            self.webhook.close()
            self.webhook = None
        if self.refuser:
            self.refuser.close()
            self.refuser = None

    def cleanup(self):
        self.stop()
        if self.owned_tmp:
            shutil.rmtree(self.owned_tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # ---- queries -----------------------------------------------------------------------------
    def query(self, expr):
        """Instant PromQL query; returns (status, data or error text)."""
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            _, body = http_get(url, timeout=10)
        except urllib.error.HTTPError as e:
            body = e.read()
        doc = json.loads(body)
        if doc.get("status") != "success":
            return "error", f"{doc.get('errorType')}: {doc.get('error')}"
        return "success", doc["data"]


_print_lock = threading.Lock()


def print_notification(payload):
    lines = []
    for a in payload.get("alerts", []):
        labels = a.get("labels", {})
        lines.append(f"demo: [{payload.get('receiver')}] {a.get('status', '').upper()} "
                     f"{labels.get('alertname')} severity={labels.get('severity')} "
                     f"provider={labels.get('provider', '-')}: "
                     f"{a.get('annotations', {}).get('summary', '')}\n")
    with _print_lock:  # the receiver serves requests on several threads
        sys.stdout.write("".join(lines))
        sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, default in DEMO_PORTS.items():
        parser.add_argument(f"--{name}-port", type=int, default=default,
                            help=f"loopback port (default {default}; 0 = any free port)")
    parser.add_argument("--workdir", default=os.path.join(ROOT, ".run", "stack"),
                        help="where data and logs go (wiped at start; default .run/stack)")
    parser.add_argument("--time-factor", type=int, default=30,
                        help="divide rule windows and for: durations by this (1 = production)")
    parser.add_argument("--rate", type=int, default=40, help="messages per second injected")
    parser.add_argument("--recover-after", type=float, default=0,
                        help="seconds after which the simulated Gmail stops deferring (0: never)")
    args = parser.parse_args()

    ports = {k: getattr(args, f"{k}_port") for k in DEMO_PORTS}
    # Wipe the previous run's data, but only a directory an earlier run created (marker file).
    marker = os.path.join(args.workdir, ".outpost-stack")
    if os.path.isdir(args.workdir) and os.listdir(args.workdir):
        if not os.path.exists(marker):
            print(f"demo: {args.workdir} is not empty and was not made by this demo; "
                  "pass another --workdir", file=sys.stderr)
            return 1
        shutil.rmtree(args.workdir)
    os.makedirs(args.workdir)
    open(marker, "w").close()
    stack = Stack(workdir=args.workdir, ports=ports, time_factor=args.time_factor,
                  on_notification=print_notification)
    stop_event = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop_event.set())
    try:
        stack.start(load_rate=args.rate)
        print("demo: everything runs on loopback; data and logs in " + stack.dir)
        for what, url in stack.urls().items():
            print(f"demo:   {what:<20} {url}")
        print("demo: outpost-load injects", args.rate, "msg/s for", LOAD_DOMAINS)
        print("demo: the simulated Gmail defers 30 % (421 4.7.28): within about a minute the "
              "deferral alert fires and its notifications are printed below")
        print("demo: press Ctrl-C to stop everything this demo started", flush=True)
        recover_at = time.monotonic() + args.recover_after if args.recover_after else None
        while not stop_event.is_set():
            if recover_at and time.monotonic() >= recover_at:
                stack.recover()
                print("demo: the simulated Gmail stopped deferring; the alert will resolve",
                      flush=True)
                recover_at = None
            for name, proc in list(stack.procs.items()):
                if name != "outpost-load":
                    proc.check_alive()
            stop_event.wait(1.0)
    except KeyboardInterrupt:
        pass
    except (StackError, TimeoutError) as e:
        print(f"demo: {e}", file=sys.stderr)
        stack.stop()
        return 1
    finally:
        stack.stop()
    print("demo: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
