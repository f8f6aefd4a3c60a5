"""The scheduler's stall watchdog against a live outpostd (queue-stall-warning-after 1s): a
destination that accepts the TCP connection but never sends its greeting leaves its queue with
mail due and no delivery attempt started or finished; the queue is flagged (status API, log line,
exporter-facing counters) once, while a queue held by the retry interval after a refused
connection is not; when the connection finally fails the episode ends and the count stays."""
import smtplib
import socket

from harness.mgmt import MgmtClient, start_outpostd
from harness.outpostd import wait_for


def queue(c, name):
    """The queue's entry in /queues.json ({} until the next snapshot lists it)."""
    return next((q for q in c.get("/queues.json")[1]["queues"] if q["name"] == name), {})


def test_stalled_queue_flagged_once_and_explained_waits_are_not():
    mute = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # listens, never accepts or greets
    mute.bind(("127.0.0.1", 0))
    mute.listen(8)
    port = mute.getsockname()[1]
    config = (f"queue-stall-warning-after 1s\n<domain mute.test>\n  route [127.0.0.1]:{port}\n"
              f"  smtp-greeting-timeout 1h\n  retry-after 1h\n</domain>\n")
    try:
        d = start_outpostd(extra_config=config)
        try:
            c = MgmtClient(d)
            with smtplib.SMTP(d.host, d.port, timeout=10) as s:
                # Refused (the harness's <domain *> route): held for its retry interval.
                s.sendmail("news@app.test", ["a@refused.test"], "Subject: r\r\n\r\nhi\r\n")
                wait_for(lambda: queue(c, "refused.test/{default}").get("connect_failures", 0) >= 1,
                         20, "the refused connection")
                s.sendmail("news@app.test", ["b@mute.test"], "Subject: m\r\n\r\nhi\r\n")
            wait_for(lambda: c.get("/status.json")[1]["queue"]["stalled_queues"] == 1, 30,
                     "the mute queue flagged")
            q = c.get("/status.json")[1]["queue"]
            assert q["stalls"] == 1
            assert queue(c, "mute.test/{default}")["stalled"] is True
            assert queue(c, "refused.test/{default}")["stalled"] is False
            log = d.log_text()
            assert "mute.test/{default} stalled: mail due but no delivery attempt" in log
            assert "refused.test/{default} stalled" not in log

            mute.close()  # the pending connection is reset: a failed attempt ends the episode
            wait_for(lambda: c.get("/status.json")[1]["queue"]["stalled_queues"] == 0, 30,
                     "the episode's end")
            assert c.get("/status.json")[1]["queue"]["stalls"] == 1
            assert queue(c, "mute.test/{default}")["stalled"] is False
            wait_for(lambda: "mute.test/{default} no longer stalled" in d.log_text(), 10,
                     "the end logged")
            assert d.log_text().count("mute.test/{default} stalled:") == 1
        finally:
            d.close()
    finally:
        mute.close()
