"""The management HTTP API of a live outpostd: read endpoints, http-access, queue control, reload
(API and SIGHUP), and the documented schema (docs/status-api.md) checked against live answers.

The harness routes every domain to a loopback port that refuses connections, so injected mail
stays queued with connection failures (tq records): queues exist and carry last errors.
"""
import signal
import smtplib

import jsonschema
import pytest

from harness.mgmt import MgmtClient, doc_examples, doc_schemas, start_outpostd
from harness.outpostd import OutpostD, wait_for


def inject(d, n=3, domains=("gmail.com", "yahoo.com")):
    with smtplib.SMTP(d.host, d.port, timeout=10) as s:
        for i in range(n):
            rcpts = [f"u{i}@{dom}" for dom in domains]
            assert s.sendmail("news@example.com", rcpts,
                              f"Subject: t{i}\r\nMessage-ID: <m{i}@example.com>\r\n\r\nhi\r\n") == {}


@pytest.fixture
def daemon():
    d = start_outpostd()
    try:
        yield d
    finally:
        d.close()


def queues_by_name(client, **params):
    status, body = client.get("/queues.json", params or None)
    assert status == 200, body
    return {q["name"]: q for q in body["queues"]}


def test_read_endpoints_show_live_state(daemon):
    c = MgmtClient(daemon)
    inject(daemon, 3)
    qs = wait_for(lambda: (lambda q: len(q) == 2 and all(x["recipients"] == 3 for x in q.values())
                           and q)(queues_by_name(c)), 15, "two queues of 3 recipients")
    assert set(qs) == {"gmail.com/{default}", "yahoo.com/{default}"}
    assert all(q["mode"] == "normal" and not q["paused"] for q in qs.values())
    # Connection failures reach the queues' last errors and the tq counters on the bus.
    wait_for(lambda: all(q["last_error"] for q in queues_by_name(c).values()), 15, "last errors")

    status, s = c.get("/status.json")
    assert status == 200
    assert s["schema"] == "outpost.status/v1"
    assert s["traffic"]["in"]["total"]["messages"] == 3
    assert s["traffic"]["in"]["total"]["recipients"] == 6
    assert s["traffic"]["in"]["last_minute"]["messages"] == 3
    assert s["queue"]["recipients"] == 6
    assert s["spool"]["entries"] == 3 and s["spool"]["healthy"] is True
    assert s["process"]["rss_bytes"] > 1 << 20
    assert 0 < s["process"]["open_fds"] < s["process"]["max_fds"]
    assert s["spool"]["disk_free_bytes"] > 0
    # Live bytes never exceed the segment files' bytes; the three messages share the segment being
    # written, which compaction leaves alone.
    assert 0 <= s["spool"]["live_bytes"] <= s["spool"]["bytes"]
    assert (s["spool"]["compactions"], s["spool"]["compaction_bytes_copied"],
            s["spool"]["bytes_reclaimed"], s["spool"]["compaction_errors"]) == (0, 0, 0, 0)
    assert s["ready"] is True

    status, d = c.get("/domains.json")
    assert status == 200
    domains = {x["domain"]: x for x in d["domains"]}
    assert domains["gmail.com"]["recipients"] == 3
    assert domains["gmail.com"]["last_error"]
    wait_for(lambda: {x["domain"]: x for x in c.get("/domains.json")[1]["domains"]}
             ["yahoo.com"]["queue_failures"]["total"] >= 1, 15, "tq counted on the bus")

    status, v = c.get("/vmtas.json")
    assert status == 200
    assert {x["vmta"]: x for x in v["vmtas"]}["{default}"]["recipients"] == 6

    assert c.get("/health") == (200, {"status": "ok", "version": s["version"]})
    assert c.get("/ready")[0] == 200

    # Filters and top-N.
    assert list(queues_by_name(c, domain="gmail.com")) == ["gmail.com/{default}"]
    assert queues_by_name(c, mode="backoff") == {}
    status, top = c.get("/queues.json", {"top": "1"})
    assert len(top["queues"]) == 1 and top["matched"] == 2
    status, err = c.get("/queues.json", {"mode": "sideways"})
    assert status == 400 and "mode" in err["error"]


def test_live_answers_match_the_documented_schema(daemon):
    schemas = doc_schemas()
    assert {"status", "queues", "domains", "vmtas", "error"} <= set(schemas)
    c = MgmtClient(daemon)
    inject(daemon, 2)
    wait_for(lambda: c.get("/queues.json")[1]["matched"] == 2, 15, "queues")
    c.post("/api/queue/mode", {"queue": "gmail.com", "mode": "backoff"})  # non-empty backoff list
    for name, path in [("status", "/status.json"), ("queues", "/queues.json"),
                       ("domains", "/domains.json"), ("vmtas", "/vmtas.json")]:
        status, body = c.get(path)
        assert status == 200
        jsonschema.validate(body, schemas[name])
    status, body = c.get("/status.json", source="127.0.0.2")
    assert status == 403
    jsonschema.validate(body, schemas["error"])
    # The examples in the document are valid too (so the doc cannot drift from its schema).
    for name, example in doc_examples().items():
        jsonschema.validate(example, schemas[name])


def test_http_access(daemon):
    c = MgmtClient(daemon)
    inject(daemon, 1)
    wait_for(lambda: c.get("/queues.json")[1]["matched"] == 2, 15, "queues")
    # Not listed: 403 for everything, JSON error.
    for method, path in [("GET", "/status.json"), ("GET", "/health"), ("GET", "/"),
                         ("POST", "/api/reload")]:
        status, body, ctype = c.request(method, path, source="127.0.0.2")
        assert status == 403, path
        assert ctype.startswith("application/json") and body["status"] == 403
        assert "access denied" in body["error"]
    # Monitor: reads yes, control no.
    assert c.get("/status.json", source="127.0.0.3")[0] == 200
    status, body = c.post("/api/queue/pause", {"queue": "gmail.com"}, source="127.0.0.3")
    assert status == 403 and "admin" in body["error"]
    assert not queues_by_name(c)["gmail.com/{default}"]["paused"]
    status, s = c.get("/counters.json")
    denied = {m["name"]: m for m in s["metrics"]}["mgmt_http_denied_total"]["series"][0]["value"]
    assert denied == 5


def test_pause_resume_and_mode_are_visible(daemon):
    c = MgmtClient(daemon)
    inject(daemon, 2)
    wait_for(lambda: c.get("/queues.json")[1]["matched"] == 2, 15, "queues")
    assert c.post("/api/queue/pause", {"queue": "gmail.com/{default}"})[0] == 200
    q = queues_by_name(c)
    assert q["gmail.com/{default}"]["paused"] and not q["yahoo.com/{default}"]["paused"]
    assert c.get("/status.json")[1]["queue"]["paused_queues"] == 1
    assert c.post("/api/queue/resume", {"queue": "gmail.com"})[0] == 200
    assert not queues_by_name(c)["gmail.com/{default}"]["paused"]

    status, body = c.post("/api/queue/mode", {"queue": "yahoo.com", "mode": "backoff"})
    assert status == 200 and body["queues"] == 1
    assert list(queues_by_name(c, mode="backoff")) == ["yahoo.com/{default}"]
    s = c.get("/status.json")[1]
    assert [b["name"] for b in s["backoff_queues"]] == ["yahoo.com/{default}"]
    assert s["queue"]["recipients_in_backoff"] == 2
    assert c.post("/api/queue/mode", {"queue": "yahoo.com", "mode": "normal"})[0] == 200
    assert queues_by_name(c, mode="backoff") == {}

    status, body = c.post("/api/queue/pause", {"queue": "nowhere.example"})
    assert status == 404 and "nowhere.example" in body["error"]
    status, body = c.post("/api/queue/pause")
    assert status == 400 and "queue" in body["error"]
    status, body = c.post("/api/queue/mode", {"queue": "gmail.com", "mode": "fast"})
    assert status == 400


def reload_counts(c):
    cfg = c.get("/status.json")[1]["config"]
    return cfg["reloads"], cfg["reload_failures"], cfg["last_reload_errors"]


def test_reload_good_and_bad_via_api_and_sighup(daemon):
    c = MgmtClient(daemon)
    inject(daemon, 2)
    wait_for(lambda: c.get("/queues.json")[1]["matched"] == 2, 15, "queues")
    good = daemon.config_text

    # A good reload through the API keeps the queued mail.
    status, body = c.post("/api/reload")
    assert status == 200 and body["ok"] is True
    assert reload_counts(c) == (1, 0, [])

    # A bad one is refused with its errors; the running config stays.
    with open(daemon.config_path, "w") as f:
        f.write(good + "max-smtp-in lots\nno-such-directive 1\n")
    status, body = c.post("/api/reload")
    assert status == 422
    assert len(body["errors"]) == 2 and any("no-such-directive" in e for e in body["errors"])
    reloads, failures, errors = reload_counts(c)
    assert (reloads, failures, len(errors)) == (1, 1, 2)

    # SIGHUP takes the same path.
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: reload_counts(c)[1] == 2, 15, "SIGHUP reload refused")
    assert "reload refused" in daemon.log_text()

    with open(daemon.config_path, "w") as f:
        f.write(good)
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: reload_counts(c)[0] == 2, 15, "SIGHUP reload applied")
    assert reload_counts(c)[2] == []
    # Nothing was dropped: same queues, same recipients; still accepting mail.
    assert c.get("/status.json")[1]["queue"]["recipients"] == 4
    inject(daemon, 1)
    wait_for(lambda: c.get("/status.json")[1]["queue"]["recipients"] == 6, 15, "new mail queued")


def test_reload_changes_http_access(daemon):
    c = MgmtClient(daemon)
    with open(daemon.config_path, "w") as f:
        f.write(daemon.config_text.replace("http-access 127.0.0.1 admin",
                                           "http-access 127.0.0.1 monitor"))
    assert c.post("/api/reload")[0] == 200
    status, body = c.post("/api/reload")
    assert status == 403, "127.0.0.1 is only monitor now"
    assert c.get("/status.json")[0] == 200


def test_default_access_is_localhost_monitor():
    with OutpostD(extra_config="http-mgmt-port 127.0.0.1:0\n") as d:
        c = MgmtClient(d)
        assert c.get("/status.json")[0] == 200
        assert c.get("/status.json", source="127.0.0.2")[0] == 403
        status, body = c.post("/api/reload")
        assert status == 403 and "admin" in body["error"]


def test_delete_bounces_queued_mail_without_dsn(daemon):
    c = MgmtClient(daemon)
    inject(daemon, 1)
    wait_for(lambda: c.get("/queues.json")[1]["matched"] == 2, 15, "queues")
    # hold=1 needs a hold store this build does not have: 501, nothing deleted.
    status, body = c.post("/api/queue/delete", {"queue": "gmail.com", "hold": "1"})
    assert status == 501 and "hold=1 is not supported" in body["error"], body
    assert queues_by_name(c)["gmail.com/{default}"]["recipients"] == 1
    assert c.post("/api/queue/delete", {"queue": "nosuch.example"})[0] == 404
    status, body = c.post("/api/queue/delete", {"queue": "gmail.com"})
    assert status == 200, body
    assert body == {"ok": True, "action": "delete", "queue": "gmail.com", "recipients": 1}
    wait_for(lambda: queues_by_name(c)["gmail.com/{default}"]["recipients"] == 0, 15,
             "queue emptied")
    assert queues_by_name(c)["yahoo.com/{default}"]["recipients"] == 1  # the other queue stays
    daemon.stop()
    b = [r for r in daemon.acct_records() if r["type"] == "b"]
    assert len(b) == 1, b
    assert b[0]["rcpt"] == "u0@gmail.com"
    assert b[0]["dsnDiag"] == "deleted by operator"
    assert b[0]["bounceCat"] == "other"
    assert b[0]["dsnStatus"].startswith("5.0.0")
    # No DSN: nothing was queued to the sender.
    assert not any(r.get("rcpt") == "news@example.com" for r in daemon.acct_records())
