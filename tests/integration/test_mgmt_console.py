"""The web console (GET / on the management port) in headless Chromium against a live outpostd
that has delivered, deferred and bounced mail: the page must render, by its own JavaScript, the
status, the top queues with their modes and last errors, and per-vmta traffic.

Skipped (with a message) only when Debian's chromium is not installed.
"""
import os
import shutil
import smtplib
import subprocess
import tempfile

import pytest

from harness.isp_sim import IspSim
from harness.mgmt import MGMT_CONFIG, MgmtClient
from harness.outpostd import OutpostD, wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

SIM_CONFIG = ('<domain yahoo.com>\n  defer-ratio 0.3 "421 4.7.0 Try again later"\n'
              '  bounce-ratio 0.1 "550 5.1.1 no such user"\n</domain>\n<domain *> accept </domain>\n')


def chromium(args, url, profile):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
           "--virtual-time-budget=5000"] + args + [url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_console_shows_live_state(tmp_path):
    with IspSim(tmp_path / "sim", SIM_CONFIG) as sim:
        route = (f"<virtual-mta vmta1>\n</virtual-mta>\n"
                 f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1h\n</domain>\n"
                 f"<domain hotmail.com>\n  route [127.0.0.1]:1\n  retry-after 1h\n</domain>\n")
        with OutpostD(extra_config=MGMT_CONFIG + route) as d:
            c = MgmtClient(d)
            with smtplib.SMTP(d.host, d.port, timeout=10) as s:
                for i in range(20):
                    s.sendmail("news@example.com",
                               [f"u{i}@gmail.com", f"v{i}@yahoo.com", f"w{i}@hotmail.com"],
                               f"Subject: x{i}\r\nX-Virtual-MTA: vmta1\r\n\r\nhello {i}\r\n")
            wait_for(lambda: c.get("/status.json")[1]["traffic"]["out"]["total"]["messages"] >= 30,
                     20, "deliveries on the bus")
            # Settled: every message not deferred is at the simulator, and so is the DSN of each
            # yahoo.com bounce (to news@example.com); the queued count no longer moves.
            wait_for(lambda: (lambda t: t["messages"] == 40 - t["recipients_deferred"])(
                sim.stats()["totals"]), 20, "deliveries and DSNs at the simulator")
            assert c.post("/api/queue/mode", {"queue": "hotmail.com", "mode": "backoff"})[0] == 200
            status = c.get("/status.json")[1]

            profile = tempfile.mkdtemp(dir=tmp_path)
            out = chromium(["--dump-dom"], c.url + "/", profile)
            dom = out.stdout
            assert "<title>Outpost console</title>" in dom, out.stderr[-2000:]
            # Rendered by the page's script from the JSON endpoints, not static text:
            assert "version " + status["version"] in dom
            assert ">ready<" in dom
            for queue in ("hotmail.com/vmta1", "yahoo.com/vmta1", "gmail.com/vmta1"):
                assert queue in dom, queue
            assert 'class="mode-backoff">backoff<' in dom, "the backoff queue's mode is shown"
            assert "Connection refused" in dom, "the hotmail queue's last error is shown"
            assert "<td>vmta1</td>" in dom, "per-vmta row"
            assert '<span id="error"></span>' in dom, "no fetch error shown"
            pool = status["signing_pool"]
            assert f'id="signing-detail">{pool["threads"]} threads, ' in dom, "signing pool card"
            assert "% busy<" in dom
            queued = status["queue"]["recipients"]
            assert queued > 0 and f'id="queued">{queued:,}<' in dom, "queued recipients card"

            # The console as the operator sees it (kept in docs/ by bench/mgmt/screenshot.sh).
            shot = tmp_path / "console.png"
            out = chromium(["--screenshot=" + str(shot), "--window-size=1280,900",
                            "--hide-scrollbars"], c.url + "/", tempfile.mkdtemp(dir=tmp_path))
            assert shot.exists() and shot.stat().st_size > 10000, out.stderr[-2000:]
            if os.environ.get("OUTPOST_CONSOLE_SCREENSHOT"):
                shutil.copy(shot, os.environ["OUTPOST_CONSOLE_SCREENSHOT"])
