"""Alert-driven actions (docs/config.md "Alert-driven actions", docs/status-api.md "POST
/api/alerts") against a live outpostd: the whole loop through the real Alertmanager (an alert
fires -> Alertmanager calls outpostd's webhook -> the queue pauses -> the alert resolves -> it
resumes), the access checks (401 wrong or missing token, 403 http-access), idempotence, a reroute
of a provider's new mail to another pool, and reload.

The harness routes every domain to a loopback port that refuses connections, so injected mail
stays queued: queues exist, and the virtual MTA of a queue's name is the one its mail goes out
through.
"""
import contextlib
import datetime
import http.client
import json
import os
import sys
import tempfile
import urllib.request

import pytest
import yaml

from harness.mgmt import MgmtClient, start_outpostd
from harness.outpostd import wait_for
from test_mgmt_console import CHROMIUM, chromium

SOURCE = os.environ.get("OUTPOST_SOURCE", os.path.join(os.path.dirname(__file__), "../.."))
sys.path.insert(0, os.path.join(SOURCE, "scripts"))
import stack as stackmod  # noqa: E402

TOKEN = "t0k3n-for-alertmanager"
ALERT = {"alertname": "OutpostProviderDeferralRatioHigh", "provider": "gmail",
         "severity": "critical", "instance": "mta1:9469"}

RULES = """
<virtual-mta warm1>
  smtp-source-host 127.0.0.1 warm1.outpost.test
</virtual-mta>
<virtual-mta-pool warm-pool>
  virtual-mta warm1
</virtual-mta-pool>
<alert-action gmail-pause>
  match alertname=OutpostProviderDeferralRatioHigh provider=gmail
  action pause-queue gmail.com
</alert-action>
<alert-action gmail-warm>
  match alertname=OutpostGmailReputation
  action reroute gmail warm-pool
  for 1h
</alert-action>
"""


def start(tmp_path, rules=RULES):
    work = tmp_path / "mta"
    work.mkdir()
    token_file = work / "alert-token"
    token_file.write_text(TOKEN + "\n")
    return start_outpostd(f"alert-action-token-file {token_file}\n{rules}", workdir=str(work))


@contextlib.contextmanager
def running(tmp_path, rcpts=()):
    """(outpostd, its MgmtClient), with `rcpts` injected (one message) and their queues there."""
    d = start(tmp_path)
    try:
        c = MgmtClient(d)
        if rcpts:
            inject(d, rcpts)
            want = {r.split("@")[1] for r in rcpts}
            wait_for(lambda: len(queues(c)) == len(want), 15, "the queues")
        yield d, c
    finally:
        d.close()


def inject(d, rcpts):
    import smtplib
    with smtplib.SMTP(d.host, d.port, timeout=10) as s:
        assert s.sendmail("news@example.com", rcpts, "Subject: t\r\n\r\nhi\r\n") == {}


def post_alerts(client, payload, token=TOKEN, source="127.0.0.1"):
    conn = http.client.HTTPConnection(client.host, client.port, timeout=15,
                                      source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", "/api/alerts", body=json.dumps(payload), headers=headers)
        res = conn.getresponse()
        return res.status, json.loads(res.read().decode())
    finally:
        conn.close()


def notification(labels, status="firing", fingerprint="f1"):
    return {"version": "4", "status": status, "receiver": "outpost-actions", "groupKey": "{}",
            "alerts": [{"status": status, "labels": labels, "annotations": {},
                        "startsAt": "2026-12-05T01:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "fingerprint": fingerprint}]}


def queues(client):
    return {q["name"]: q for q in client.get("/queues.json")[1]["queues"]}


def alertmanager_config(webhook_url, token_file):
    """The production alertmanager.yml with its outpost-actions receiver pointed at this test's
    outpostd, every other receiver dropped, and fast grouping."""
    with open(os.path.join(SOURCE, "alert-rules", "alertmanager.yml")) as f:
        cfg = yaml.safe_load(f)
    actions = [r for r in cfg["receivers"] if r["name"].startswith("outpost-actions")]
    assert len(actions) == 1, "the example receiver is in alert-rules/alertmanager.yml"
    hook = actions[0]["webhook_configs"][0]
    assert hook["http_config"]["authorization"]["type"] == "Bearer"
    assert "credentials" not in hook["http_config"]["authorization"], "token from a file only"
    hook["url"] = webhook_url
    hook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    cfg["receivers"] = [{"name": r["name"]} if r is not actions[0] else r
                        for r in cfg["receivers"]]
    cfg["route"].update({"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"})
    for route in cfg["route"]["routes"]:
        route.pop("group_wait", None)
        route.pop("group_interval", None)
    return yaml.safe_dump(cfg, sort_keys=False)


def send_to_alertmanager(url, labels, resolved=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    alert = {"labels": labels, "startsAt": (now - datetime.timedelta(minutes=5)).isoformat()}
    if resolved:
        alert["endsAt"] = (now - datetime.timedelta(seconds=1)).isoformat()
    req = urllib.request.Request(url + "/api/v2/alerts", data=json.dumps([alert]).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()


def fire_through_alertmanager(tmp_path, d, st):
    """Mail queued for gmail.com and yahoo.com, the real Alertmanager started with its
    outpost-actions receiver pointed at `d`, ALERT sent to it and gmail.com paused by its
    notification; returns the MgmtClient."""
    c = MgmtClient(d)
    inject(d, ["a@gmail.com", "b@yahoo.com"])
    wait_for(lambda: len(queues(c)) == 2, 15, "two queues")
    st.start_alertmanager(config_text=alertmanager_config(
        f"{c.url}/api/alerts", tmp_path / "mta" / "alert-token"))
    send_to_alertmanager(st.alertmanager_url, ALERT)
    wait_for(lambda: queues(c)["gmail.com/{default}"]["paused"], 30,
             "Alertmanager's notification pauses gmail.com")
    return c


def test_the_whole_loop_through_a_real_alertmanager(tmp_path):
    d = start(tmp_path)
    st = stackmod.Stack(workdir=str(tmp_path / "stack"), time_factor=30)
    try:
        c = fire_through_alertmanager(tmp_path, d, st)
        assert not queues(c)["yahoo.com/{default}"]["paused"]
        actions = c.get("/status.json")[1]["actions"]
        assert [(a["rule"], a["action"], a["target"], a["alert"]["alertname"])
                for a in actions["active"]] == [
            ("gmail-pause", "pause-queue", "gmail.com", "OutpostProviderDeferralRatioHigh")]
        assert actions["active"][0]["alert"]["labels"]["provider"] == "gmail"

        send_to_alertmanager(st.alertmanager_url, ALERT, resolved=True)
        wait_for(lambda: not queues(c)["gmail.com/{default}"]["paused"], 30,
                 "the resolved notification resumes gmail.com")
        status = c.get("/status.json")[1]["actions"]
        assert status["active"] == []
        assert [e["event"] for e in status["recent"]][:2] == ["undone", "taken"]
        counters = {m["name"]: m for m in c.get("/counters.json")[1]["metrics"]}
        taken = counters["alert_actions_total"]["series"]
        assert {s["label"]: s["value"] for s in taken} == {"pause-queue": 1}
        with open(d.log) as f:
            log = f.read()
        assert "alert-action gmail-pause (OutpostProviderDeferralRatioHigh, firing): took " \
               "pause-queue gmail.com" in log
        assert "(OutpostProviderDeferralRatioHigh, resolved): undid pause-queue gmail.com" in log
    finally:
        st.stop()
        d.close()


def test_token_and_http_access(tmp_path):
    with running(tmp_path) as (d, c):
        body = notification(ALERT)
        for token in (None, "wrong", TOKEN + "x"):
            status, answer = post_alerts(c, body, token=token)
            assert status == 401 and "bearer token" in answer["error"], token
        status, answer = post_alerts(c, body, source="127.0.0.2")  # not listed
        assert status == 403
        status, answer = post_alerts(c, body, source="127.0.0.3")  # monitor only
        assert status == 403
        assert c.get("/status.json")[1]["actions"]["active"] == []
        status, answer = post_alerts(c, {"version": "4", "alerts": "nope"})
        assert status == 400 and "alerts" in answer["error"]
        status, answer = post_alerts(c, body)
        assert status == 200 and answer["actions"][0]["result"] == "taken"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_console_shows_active_and_recent_actions(tmp_path):
    with running(tmp_path) as (d, c):
        post_alerts(c, notification({"alertname": "OutpostGmailReputation"}))
        post_alerts(c, notification(ALERT))
        post_alerts(c, notification(ALERT, "resolved"))
        dom = chromium(["--dump-dom"], c.url + "/", tempfile.mkdtemp(dir=tmp_path)).stdout
        assert '<span id="actions-rules">2</span>' in dom
        assert "<td>reroute gmail -&gt; warm-pool</td>" in dom
        assert '<td class="paused">active</td>' in dom
        assert "<td>undone (resolved)</td>" in dom


def test_resends_do_not_stack_and_another_alert_holds_it(tmp_path):
    with running(tmp_path, ["a@gmail.com"]) as (d, c):
        assert post_alerts(c, notification(ALERT))[1]["actions"][0]["result"] == "taken"
        assert post_alerts(c, notification(ALERT))[1]["actions"][0]["result"] == "already active"
        other = dict(ALERT, instance="mta2:9469")
        post_alerts(c, notification(other, fingerprint="f2"))
        post_alerts(c, notification(ALERT, "resolved"))
        assert queues(c)["gmail.com/{default}"]["paused"], "f2 still fires"
        assert c.get("/status.json")[1]["actions"]["active"][0]["firing_alerts"] == 1
        post_alerts(c, notification(other, "resolved", fingerprint="f2"))
        assert not queues(c)["gmail.com/{default}"]["paused"]


def test_reroute_sends_the_providers_new_mail_through_the_other_pool(tmp_path):
    with running(tmp_path, ["a@gmail.com", "b@yahoo.com"]) as (d, c):
        status, answer = post_alerts(c, notification({"alertname": "OutpostGmailReputation"}))
        assert status == 200 and answer["actions"][0]["result"] == "taken", answer
        active = c.get("/status.json")[1]["actions"]["active"]
        assert active[0]["pool"] == "warm-pool" and active[0]["until"] is not None
        inject(d, ["c@gmail.com", "d@yahoo.com", "e@googlemail.com"])
        wait_for(lambda: queues(c).get("gmail.com/warm1", {}).get("recipients") == 1, 15,
                 "new gmail mail queued through warm1")
        qs = queues(c)
        assert qs["gmail.com/{default}"]["recipients"] == 1, "mail queued before stays"
        assert qs["yahoo.com/{default}"]["recipients"] == 2, "other providers are not rerouted"
        assert qs["googlemail.com/warm1"]["recipients"] == 1, "gmail is a provider, not a domain"
        post_alerts(c, notification({"alertname": "OutpostGmailReputation"}, "resolved"))
        inject(d, ["f@gmail.com"])
        wait_for(lambda: queues(c)["gmail.com/{default}"]["recipients"] == 2, 15,
                 "after the resolve, new mail goes its own way again")


def test_reload_keeps_a_rule_that_stays_and_undoes_one_that_goes(tmp_path):
    with running(tmp_path, ["a@gmail.com"]) as (d, c):
        post_alerts(c, notification(ALERT))
        assert c.post("/api/reload")[0] == 200
        assert queues(c)["gmail.com/{default}"]["paused"], "same rule: still active"
        with open(d.config_path) as f:
            text = f.read()
        with open(d.config_path, "w") as f:
            f.write(text.replace("action pause-queue gmail.com", "action backoff-queue gmail.com"))
        assert c.post("/api/reload")[0] == 200
        assert not queues(c)["gmail.com/{default}"]["paused"], "changed rule: undone"
        assert c.get("/status.json")[1]["actions"]["recent"][0]["why"] == "reload"


def test_outpostctl_show_actions_lists_the_active_actions(tmp_path):
    from test_mgmt_outpostctl import ctl
    with running(tmp_path) as (d, c):
        rc, out, err = ctl(c.url, "show", "actions")
        assert rc == 0, err
        assert out.splitlines() == ["no alert-driven action is active (2 rules)",
                                    "since start-up: 0 taken, 0 undone, 0 failed"]
        post_alerts(c, notification(ALERT))
        post_alerts(c, notification({"alertname": "OutpostGmailReputation"}, fingerprint="f2"))
        active = {a["rule"]: a for a in c.get("/status.json")[1]["actions"]["active"]}
        rc, out, err = ctl(c.url, "show", "actions")
        assert rc == 0, err
        lines = out.splitlines()
        assert lines[0].split() == ["rule", "action", "alert", "firing", "since", "undo"]
        rows = {line.split()[0]: line for line in lines[1:3]}
        assert rows["gmail-pause"].split() == [
            "gmail-pause", "pause-queue", "gmail.com", "OutpostProviderDeferralRatioHigh", "1",
            active["gmail-pause"]["since"], "on", "resolve"]
        assert rows["gmail-warm"].split() == [
            "gmail-warm", "reroute", "gmail", "->", "warm-pool", "OutpostGmailReputation", "1",
            active["gmail-warm"]["since"], "on", "resolve", "or", "at",
            active["gmail-warm"]["until"]]
        assert lines[3:] == ["2 active of 2 rules", "since start-up: 2 taken, 0 undone, 0 failed"]
        rc, out, err = ctl(c.url, "--json", "show", "actions")
        assert rc == 0 and json.loads(out)["active"] == c.get("/status.json")[1]["actions"]["active"]
