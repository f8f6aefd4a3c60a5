"""kill -9 outpostd in the middle of an smtp-source stream: every message that got 250 is
recovered from the spool at restart (acknowledged queue ids / Message-IDs ⊆ recovered ones).
Also with sync-msg-create false: without the fdatasync a crash of the machine may lose mail, a
crash of outpostd alone may not (what was written is in the kernel's page cache)."""
import re
import subprocess
import threading

import pytest

from harness.outpostd import OutpostD, wait_for

ACK = re.compile(r"<<< 250 2\.0\.0 \S+ ([0-9A-F]{16})")
UNSYNCED_WARNING = "sync-msg-create is off: new messages are not synced to disk before the 250"


@pytest.mark.parametrize("sync_msg_create", ["yes", "false"])
def test_kill9_mid_stream_loses_no_acknowledged_message(sync_msg_create):
    with OutpostD(extra_config=f"sync-msg-create {sync_msg_create}\n") as d:
        # One warning at start-up exactly when new mail is not synced.
        assert d.log_text().count(UNSYNCED_WARNING) == (1 if sync_msg_create == "false" else 0)
        source = subprocess.Popen(
            ["smtp-source", "-v", "-s", "20", "-m", "20000", "-l", "4096", "-f",
             "load@example.com", "-t", "sink@example.net", f"{d.host}:{d.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        acked = []
        lock = threading.Lock()

        def read_output():
            for line in source.stderr:
                m = ACK.search(line)
                if m:
                    with lock:
                        acked.append(m.group(1))

        reader = threading.Thread(target=read_output, daemon=True)
        reader.start()

        def enough_acked():
            with lock:
                return len(acked) >= 1500

        wait_for(enough_acked, timeout=120, what="1500 acknowledged messages")
        d.kill9()  # mid-stream: sessions are in every phase right now
        source.wait(120)
        reader.join(30)

        messages, summary = d.list_spool()
        recovered = {m["id"] for m in messages}
        missing = set(acked) - recovered
        assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:5]}"
        assert summary["damaged"] == 0
        # Every recovered message is whole: its Message-ID (smtp-source's own) is there and unique.
        message_ids = [m["message_id"] for m in messages]
        assert all(message_ids) and len(set(message_ids)) == len(message_ids)
        # Unacknowledged in-flight messages may or may not be there, but not many more than the
        # sessions that were mid-DATA.
        assert len(recovered) <= len(set(acked)) + 20 + 20

        # The daemon starts again on the same spool and reports what it recovered.
        d.start()
        wait_for(lambda: "recovered" in d.log_text(), what="recovery log line")
        assert f"recovered {len(recovered)} messages" in d.log_text()
        d.stop()
