"""run-as-root: started as root, outpostd gives up root once its ports are bound (the default,
`run-as-root no`) and still takes, spools, delivers and accounts for mail; `run-as-root yes` keeps
root; a place the unprivileged user cannot write stops start-up with the path named.
"""
import os
import smtplib
import tempfile

import pytest

from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, daemon_user, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs to start outpostd as root")


def uids(pid):
    """Real, effective, saved and filesystem uid of a process (/proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return {int(v) for v in line.split()[1:]}
    raise AssertionError("no Uid line")


def deliver_one(mta, sim_port):
    with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
        msg = ("From: news@example.com\r\nTo: a@example.net\r\nSubject: uid\r\n"
               "Message-ID: <uid@example.com>\r\n\r\nbody\r\n")
        assert client.sendmail("news@example.com", ["a@example.net"], msg) == {}
    return wait_for(lambda: [r for r in mta.acct_records() if r["type"] == "d"], 30, "d record")


def route(port, extra=""):
    return f"<domain *>\n  route [127.0.0.1]:{port}\n</domain>\n{extra}"


def test_default_gives_up_root_and_still_delivers(tmp_path):
    user = daemon_user()
    assert user is not None and user.pw_uid != 0
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        with OutpostD(extra_config=route(sim.port)) as mta:
            assert uids(mta.proc.pid) == {user.pw_uid}
            records = deliver_one(mta, sim.port)
            assert records[0]["dsnAction"] == "relayed"
            assert sim.stats()["totals"]["messages"] == 1
            # What it wrote after the switch belongs to the user: the spool and the accounting.
            for path in [mta.spool, mta.acct] + [os.path.join(mta.spool, n)
                                                 for n in os.listdir(mta.spool)]:
                assert os.stat(path).st_uid == user.pw_uid, path
            assert "root given up after start-up (run-as-root no)" in mta.log_text()
            assert mta.stop() == 0


def test_run_as_root_yes_keeps_root(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        with OutpostD(extra_config=route(sim.port, "run-as-root yes\n")) as mta:
            assert uids(mta.proc.pid) == {0}
            deliver_one(mta, sim.port)
            assert "running as root (run-as-root yes)" in mta.log_text()


def test_unwritable_rotation_directory_stops_start_up():
    # A directory of root's (mode 0755) the unprivileged user cannot create files in; the
    # accounting file there rotates, so its directory must be writable.
    with tempfile.TemporaryDirectory(prefix="outpost-rootdir-") as rootdir:
        os.chmod(rootdir, 0o755)
        acct = os.path.join(rootdir, "rotating.csv")
        mta = OutpostD(extra_config=f"<acct-file {acct}>\n  move-interval 1h\n</acct-file>\n")
        try:
            with pytest.raises(RuntimeError) as failed:
                mta.start()
        finally:
            mta.close()
        message = str(failed.value)
        assert f"a rotating accounting file is moved in {rootdir}" in message, message
        assert "run-as-root yes" in message
