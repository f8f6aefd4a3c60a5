"""The accounting file's disk fills up while mail is delivered.

Rule: a message leaves the spool only after its final record is in the accounting file. What
outpostd does (mta/acct + the scheduler): delivery goes on; records that cannot be written stay
buffered in memory and are written as soon as space returns (each Tick retries); a recipient whose
final record is not yet written is NOT marked done in the spool until it is. So a kill -9 while
the disk is full loses only buffered records of messages still in the spool: after the restart
they are delivered again (a bounded duplicate) and get their record then; without a crash, the
held recipients leave the spool once the records reach the file, and nothing is sent twice.

The accounting file lives on a tmpfs of its own (root only; skipped otherwise), filled with a
filler file so that it runs out part-way through the run.
"""
import os
import subprocess
import tempfile

import pytest

from harness.delivery import inject, records
from harness.isp_sim import IspSim
from harness.mgmt import MGMT_CONFIG, MgmtClient
from harness.outpostd import OutpostD, wait_for
from harness.reliability import figures, final_records, sim_ids

N = 150


@pytest.fixture
def small_fs():
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tempfile.mkdtemp(prefix="outpost-acctfs-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)
        os.rmdir(mnt)


def fill(path, leave):
    """Fills the file system of `path` with a filler file, leaving about `leave` bytes free."""
    st = os.statvfs(os.path.dirname(path))
    free = st.f_bavail * st.f_frsize
    with open(path, "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def daemon_with_acct_on(small_fs, tmp_path, sim):
    """An outpostd relaying to `sim` whose accounting file is on the small file system."""
    config = (MGMT_CONFIG +
              f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1s\n</domain>\n")
    work = tmp_path / "mta"
    work.mkdir()
    mta = OutpostD(extra_config=config, workdir=str(work))
    mta.acct = os.path.join(small_fs, "acct.csv")
    mta.config_text = mta.config_text.replace(f"<acct-file {work}/acct.csv>",
                                              f"<acct-file {mta.acct}>")
    assert mta.acct in mta.config_text
    with open(mta.config_path, "w") as f:
        f.write(mta.config_text)
    return mta


def deliver_onto_a_full_disk(mta, sim, filler, letter, mid_prefix):
    """Starts `mta`, fills the accounting file system (room for the header and a few records; a
    record is ~400 bytes), delivers N messages to `sim`, and waits until the scheduler holds
    finished recipients back. Returns (Message-IDs, d records written while full)."""
    mta.start()
    fill(filler, 8 << 10)
    ids = inject(mta, "app@sender.test", [[f"{letter}{i}@full.test"] for i in range(N)],
                 mid_prefix=mid_prefix)
    wait_for(lambda: all(sim_ids(sim)[mid] >= 1 for mid in ids), timeout=60,
             what="every message at the simulator")
    wait_for(lambda: "accounting not writable" in mta.log_text(), timeout=10,
             what="the scheduler noticing the full accounting disk")
    recorded_while_full = len(records(mta, "d"))
    assert recorded_while_full < N, "the disk did not fill: the test proves nothing"
    return ids, recorded_while_full


def test_full_accounting_disk_keeps_messages_until_records_are_written(tmp_path, small_fs):
    with IspSim(tmp_path / "sim", "record-message-ids 100000\n<domain *> accept </domain>\n") as sim:
        mta = daemon_with_acct_on(small_fs, tmp_path, sim)
        filler = os.path.join(small_fs, "filler")
        try:
            ids, recorded_while_full = deliver_onto_a_full_disk(mta, sim, filler, "u", "acctfull")
            # Crash while records are only in memory, then give the space back and restart.
            mta.kill9()
            os.unlink(filler)
            mta.start()
            wait_for(lambda: all(f"u{i}@full.test" in final_records(mta) for i in range(N)),
                     timeout=90, what="a final record for every recipient")
            assert mta.stop() == 0
            _, summary = mta.list_spool()
            got = sim_ids(sim)
            finals = final_records(mta)
            redelivered = sum(n - 1 for n in got.values() if n > 1)
            figures("acct_disk_full", messages=N, recorded_while_full=recorded_while_full,
                    lost_records=sum(1 for i in range(N) if f"u{i}@full.test" not in finals),
                    lost_messages=sum(1 for mid in ids if got[mid] == 0),
                    redelivered_after_restart=redelivered, spool_left=summary["messages"])
            assert summary["messages"] == 0
            assert all(got[mid] >= 1 for mid in ids)
            # Only messages without a durable record were delivered again.
            assert redelivered <= N - recorded_while_full
            assert redelivered >= 1, "nothing was kept in the spool: the rule was not exercised"
        finally:
            mta.close()


def test_held_completions_leave_the_spool_when_space_returns(tmp_path, small_fs):
    """No restart: once the records reach the file, the held recipients are marked done, so the
    spool empties and nothing is delivered twice."""
    with IspSim(tmp_path / "sim", "record-message-ids 100000\n<domain *> accept </domain>\n") as sim:
        mta = daemon_with_acct_on(small_fs, tmp_path, sim)
        filler = os.path.join(small_fs, "filler")
        try:
            ids, recorded_while_full = deliver_onto_a_full_disk(mta, sim, filler, "v", "acctback")
            # The status API (and so the exporter and the OutpostAccountingNotWritable alert)
            # shows the outage: records waiting, recipients held.
            api = MgmtClient(mta)
            wait_for(lambda: api.get("/status.json")[1]["accounting"]["held_recipients"] > 0,
                     timeout=10, what="held recipients in /status.json")
            acct = api.get("/status.json")[1]["accounting"]
            assert acct["writable"] is False and acct["buffered_bytes"] > 0, acct
            assert acct["write_errors"] > 0, acct
            os.unlink(filler)
            wait_for(lambda: "held completion(s) marked done" in mta.log_text(), timeout=30,
                     what="the held completions released")
            wait_for(lambda: all(f"v{i}@full.test" in final_records(mta) for i in range(N)),
                     timeout=30, what="a final record for every recipient")

            def healthy():
                a = api.get("/status.json")[1]["accounting"]
                return a["writable"] and a["buffered_bytes"] == 0 and a["held_recipients"] == 0

            wait_for(healthy, timeout=10, what="the accounting healthy again in /status.json")
            assert mta.stop() == 0
            _, summary = mta.list_spool()
            got = sim_ids(sim)
            figures("acct_disk_full_space_back", messages=N,
                    recorded_while_full=recorded_while_full, spool_left=summary["messages"],
                    delivered_twice=sum(1 for n in got.values() if n > 1))
            assert summary["messages"] == 0, "held recipients still in the spool"
            assert all(got[mid] == 1 for mid in ids)
            assert len(records(mta, "d")) == N
        finally:
            mta.close()
