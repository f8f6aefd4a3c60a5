"""sync-msg-create against the real daemon: by default every accepted message is synced to disk
(fdatasync) before its 250; with `sync-msg-create false` outpostd makes no fdatasync for new mail
and says so once at start-up. The syncs are counted with strace (scripts/install-deps.sh) attached
to the running daemon."""
import glob
import signal
import subprocess

import pytest

from harness.delivery import inject
from harness.outpostd import OutpostD, wait_for

MESSAGES = 20
WARNING = "sync-msg-create is off: new messages are not synced to disk before the 250 reply"


def all_threads_traced(pid):
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(status) as f:
                if "TracerPid:\t0\n" in f.read():
                    return False
        except FileNotFoundError:  # a thread that just ended
            pass
    return True


def fdatasyncs_while_injecting(d, out):
    """Injects MESSAGES messages one after another (one commit each) with strace attached."""
    tracer = subprocess.Popen(["strace", "-f", "-e", "trace=fdatasync", "-o", str(out), "-p",
                               str(d.proc.pid)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: all_threads_traced(d.proc.pid), what="strace attached to every thread")
        inject(d, "news@app.test", [["user@dest.test"]] * MESSAGES)
    finally:
        tracer.send_signal(signal.SIGINT)  # detaches; outpostd runs on
        tracer.wait(30)
    return sum("fdatasync(" in line for line in out.read_text().splitlines())


@pytest.mark.parametrize("value", ["yes", "false"])
def test_sync_msg_create(tmp_path, value):
    with OutpostD(extra_config=f"sync-msg-create {value}\n") as d:
        syncs = fdatasyncs_while_injecting(d, tmp_path / "strace.out")
        if value == "yes":
            assert syncs >= MESSAGES, syncs  # one commit per message, each synced before its 250
            assert WARNING not in d.log_text()
        else:
            assert syncs == 0, syncs
            assert d.log_text().count(WARNING) == 1
        d.stop()
        messages, summary = d.list_spool()
        assert len(messages) == MESSAGES and summary["damaged"] == 0
