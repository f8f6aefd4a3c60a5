"""Start outpost-isp-sim with a config on port 0 and read its stats.

    with IspSim(tmp_path, '<domain *> accept </domain>') as sim:
        smtplib.SMTP(sim.host, sim.port) ...
        sim.stats()['totals']['messages']

The simulator prints its bound ports on stdout and writes them to a port file; we wait for that
file with a deadline (select-based polling, no timing sleeps). stop() sends SIGTERM and returns the
stats it wrote to its --stats-file on exit.
"""
import json
import os
import select
import signal
import subprocess
import time
import urllib.request
from pathlib import Path


def _bin(name):
    return str(Path(os.environ.get("OUTPOST_BIN", "build/bin")) / name)


def wait_for(condition, timeout=10.0, what="condition"):
    """Polls condition() every 20 ms until it is truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        select.select([], [], [], 0.02)


class IspSim:
    def __init__(self, workdir, config, maildir=None, extra_args=()):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "isp-sim.conf"
        if "listen" not in config.split("<domain")[0]:
            config = "listen 127.0.0.1:0\nstats-listen 127.0.0.1:0\n" + config
        self.config_path.write_text(config)
        self.port_file = self.workdir / "isp-sim.ports"
        self.stats_file = self.workdir / "isp-sim.stats.json"
        self.maildir = maildir
        self.extra_args = list(extra_args)
        self.proc = None

    def start(self):
        args = [_bin("outpost-isp-sim"), "--config", str(self.config_path),
                "--port-file", str(self.port_file), "--stats-file", str(self.stats_file)]
        if self.maildir:
            args += ["--maildir", str(self.maildir)]
        self.proc = subprocess.Popen(args + self.extra_args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("outpost-isp-sim exited: " + self.proc.stderr.read())
            return self.port_file.exists()

        wait_for(ready, what="isp-sim port file")
        self.ports = json.loads(self.port_file.read_text())
        host, port = self.ports["smtp"].rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.smtp_address = self.ports["smtp"]
        self.stats_address = self.ports["stats"]
        return self

    def stats(self):
        with urllib.request.urlopen(f"http://{self.stats_address}/stats", timeout=10) as r:
            return json.loads(r.read())

    def dump_stats(self):
        """SIGUSR1: the simulator rewrites --stats-file; returns its content."""
        self.stats_file.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        wait_for(self.stats_file.exists, what="stats file after SIGUSR1")
        return json.loads(self.stats_file.read_text())

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None
        return json.loads(self.stats_file.read_text()) if self.stats_file.exists() else None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
