"""The signing pool against the real daemon: `queue-processing-threads` (or `workers`) sizes the
threads that make DKIM signatures, every message still arrives signed, and /status.json shows the
pool's load (threads, capacity, jobs done, busy time). A reload with another size keeps the running
pool and says so in the log; `smtp-service-threads` is refused with the reason.
"""
import signal
import smtplib
import subprocess

import pytest

from harness.isp_sim import IspSim
from harness.mgmt import MGMT_CONFIG, MgmtClient
from harness.outpostd import OutpostD, binary, wait_for

MESSAGES = 30


def _genkey(path):
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(path)], check=True, capture_output=True)


def _config(directive, key, sim_port):
    return (f"{directive}\n{MGMT_CONFIG}domain-key s1,signer.example,{key}\n"
            f"<domain *>\n  route [127.0.0.1]:{sim_port}\n  dkim-sign yes\n</domain>\n")


def _signed_files(maildir):
    new = maildir / "new"
    if not new.is_dir():
        return []
    return [p.read_bytes() for p in new.iterdir()]


@pytest.mark.parametrize("directive,threads", [("queue-processing-threads 3", 3), ("workers 2", 2)])
def test_pool_signs_every_message_and_shows_its_load(tmp_path, directive, threads):
    key = tmp_path / "key.pem"
    _genkey(key)
    maildir = tmp_path / "maildir"
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim:
        with OutpostD(extra_config=_config(directive, key, sim.port),
                      workdir=str(tmp_path)) as mta:
            assert f"signing pool: {threads} thread(s)" in mta.log_text()
            with smtplib.SMTP(mta.host, mta.port, timeout=30) as client:
                for i in range(MESSAGES):
                    data = (f"From: <news@signer.example>\r\nTo: <u{i}@dest.test>\r\n"
                            f"Subject: {i}\r\nMessage-ID: <{i}@test>\r\n\r\nbody {i}\r\n")
                    assert client.sendmail("news@signer.example", [f"u{i}@dest.test"],
                                           data) == {}
            files = wait_for(lambda: (lambda f: f if len(f) >= MESSAGES else None)(
                _signed_files(maildir)), 60, f"{MESSAGES} messages at the sim")
            assert all(f.startswith(b"DKIM-Signature:") for f in files)

            c = MgmtClient(mta)
            pool = wait_for(lambda: (lambda p: p if p["jobs"] >= MESSAGES else None)(
                c.get("/status.json")[1]["signing_pool"]), 60, "the pool's figures published")
            assert pool["threads"] == threads
            assert pool["capacity"] == 4 * threads
            assert pool["jobs"] == MESSAGES
            assert pool["queued"] == 0 and pool["waiting"] == 0
            assert pool["busy_seconds"] > 0
            assert 0 <= pool["busy_fraction"] <= 1
            assert c.get("/status.json")[1]["dkim"]["signed"] == MESSAGES

            # A reload with another size keeps the running pool, and says so.
            text = open(mta.config_path).read()
            name = directive.split()[0]
            with open(mta.config_path, "w") as f:
                f.write(text.replace(directive, f"{name} {threads + 1}"))
            mta.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "configuration reloaded from" in mta.log_text(), 60, "reload")
            assert (f"the signing pool keeps {threads} thread(s) until outpostd restarts"
                    in mta.log_text())
            assert c.get("/status.json")[1]["signing_pool"]["threads"] == threads
            assert mta.stop() == 0


def test_smtp_service_threads_is_refused_with_the_reason(tmp_path):
    conf = tmp_path / "outpost.conf"
    conf.write_text(f"smtp-listener 127.0.0.1:0\nspool {tmp_path / 'spool'}\n"
                    "smtp-service-threads 32\n")
    result = subprocess.run([binary("outpostd"), "--check-config", str(conf)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{conf}:3:" in result.stderr
    assert "PowerMTA directive not supported by Outpost" in result.stderr
    assert "one event loop" in result.stderr
