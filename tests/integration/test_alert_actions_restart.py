"""Alert-driven actions across a restart (docs/config.md "Alert-driven actions"): the active set
is kept in the spool directory (alert-actions), so after a kill -9 and a start the queue is still
paused, the action shows in /status.json, and the alert's later resolve, sent by the real
Alertmanager (which does not resend a firing alert before its repeat_interval), still undoes it.
An action whose rule left the configuration meanwhile is dropped, with a log line.
"""
import json

from harness.mgmt import MgmtClient
from harness.outpostd import wait_for
from test_alert_actions import (ALERT, fire_through_alertmanager, inject, notification,
                                post_alerts, queues, send_to_alertmanager, start, stackmod)
from test_mgmt_outpostctl import ctl

GMAIL = "gmail.com/{default}"


def restart_on_the_same_port(d, c, edit=lambda text: text):
    """kill -9, then start again with the management port the first run bound (Alertmanager's
    webhook URL stays valid) and `edit` applied to the configuration; waits for gmail's queue."""
    d.kill9()
    with open(d.config_path) as f:
        text = f.read()
    text = text.replace("http-mgmt-port 127.0.0.1:0", f"http-mgmt-port 127.0.0.1:{c.port}")
    with open(d.config_path, "w") as f:
        f.write(edit(text))
    d.start()
    c = MgmtClient(d)
    wait_for(lambda: GMAIL in queues(c), 15, "gmail's queue recovered from the spool")
    return c


def test_a_paused_queue_stays_paused_after_kill9_and_the_resolve_resumes_it(tmp_path):
    d = start(tmp_path)
    st = stackmod.Stack(workdir=str(tmp_path / "stack"), time_factor=30)
    try:
        c = fire_through_alertmanager(tmp_path, d, st)
        with open(d.spool + "/alert-actions") as f:
            saved = json.load(f)
        assert [a["rule"] for a in saved["active"]] == ["gmail-pause"]

        c = restart_on_the_same_port(d, c)
        assert queues(c)[GMAIL]["paused"], "paused from the first reading on"
        assert not queues(c)["yahoo.com/{default}"]["paused"]
        active = c.get("/status.json")[1]["actions"]["active"]
        assert [(a["rule"], a["target"], a["alert"]["alertname"]) for a in active] == [
            ("gmail-pause", "gmail.com", "OutpostProviderDeferralRatioHigh")]
        assert "alert-action gmail-pause (OutpostProviderDeferralRatioHigh, restored): took " \
               "pause-queue gmail.com" in d.log_text()
        rc, out, err = ctl(c.url, "show", "actions")
        assert rc == 0 and out.splitlines()[1].startswith("gmail-pause  pause-queue gmail.com"), \
            (out, err)

        send_to_alertmanager(st.alertmanager_url, ALERT, resolved=True)
        wait_for(lambda: not queues(c)[GMAIL]["paused"], 30,
                 "the resolve after the restart resumes gmail.com")
        assert c.get("/status.json")[1]["actions"]["active"] == []
        with open(d.spool + "/alert-actions") as f:
            assert json.load(f)["active"] == []
    finally:
        st.stop()
        d.close()


def test_an_action_whose_rule_is_gone_after_the_restart_is_dropped(tmp_path):
    d = start(tmp_path)
    try:
        c = MgmtClient(d)
        inject(d, ["a@gmail.com"])
        wait_for(lambda: GMAIL in queues(c), 15, "gmail's queue")
        assert post_alerts(c, notification(ALERT))[1]["actions"][0]["result"] == "taken"
        assert queues(c)[GMAIL]["paused"]

        c = restart_on_the_same_port(
            d, c, lambda text: text.replace("<alert-action gmail-pause>", "<alert-action other>"))
        assert not queues(c)[GMAIL]["paused"]
        assert c.get("/status.json")[1]["actions"]["active"] == []
        assert "alert-action gmail-pause: pause-queue gmail.com dropped at start-up: the rule is " \
               "no longer in the configuration" in d.log_text()
    finally:
        d.close()
