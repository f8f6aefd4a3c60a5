"""Jobs against a live outpostd: mail of two jobs (X-Job, `process-x-job yes` for 127.0.0.1) is
injected while one job is paused; only the other job's mail reaches the receiver (the ISP
simulator, counted by its accounting `d` records and its own counters); `resume job` releases the
paused one; `delete --jobId` bounces a job's queued mail. Driven as PowerMTA users drive it:
`outpostctl pause job J`, `show jobs` cut by columns, `/jobs?format=xml` read by XPath."""
import smtplib
import subprocess
import xml.etree.ElementTree as ET

import jsonschema

from harness.isp_sim import IspSim
from harness.mgmt import MgmtClient, doc_schemas, start_outpostd
from harness.outpostd import binary, wait_for


def ctl(url, *args):
    p = subprocess.run([binary("outpostctl"), "--url", url, *args], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def send(d, job, rcpts):
    with smtplib.SMTP(d.host, d.port, timeout=10) as s:
        s.sendmail("news@app.test", rcpts,
                   f"X-Job: {job}\r\nSubject: {job}\r\n\r\nhello\r\n")


def records(d, kind):
    try:
        return [r for r in d.acct_records() if r["type"] == kind]
    except FileNotFoundError:
        return []


def jobs_table(url):
    rc, out, err = ctl(url, "show", "jobs")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["JobId", "Rcpt", "Msgs", "Paused", "Delivered", "Deferred",
                                "Bounced"]
    return {l.split()[0]: l.split()[1:] for l in lines[2:-2]}


def test_pause_resume_delete_by_job(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        route = f"<domain *>\n  route [127.0.0.1]:{sim.port}\n</domain>\n"
        d = start_outpostd(extra_config=route)
        try:
            c = MgmtClient(d)
            rc, out, err = ctl(c.url, "pause", "job", "spring")
            assert rc == 0 and "pause job spring: ok" in out, err
            send(d, "spring", ["s1@example.net", "s2@example.org"])
            send(d, "summer", ["u1@example.net"])
            wait_for(lambda: len(records(d, "d")) == 1, 20, "summer's recipient delivered")
            delivered = {r["rcpt"]: r["jobId"] for r in records(d, "d")}
            assert delivered == {"u1@example.net": "summer"}
            # The paused job's mail waits in its queues: queued, not attempted.
            wait_for(lambda: c.get("/status.json")[1]["queue"]["recipients"] == 2, 10, "2 queued")
            assert sim.stats()["totals"]["recipients_accepted"] == 1
            table = jobs_table(c.url)
            assert table["spring"][:3] == ["2", "1", "yes"]
            assert table["summer"][:4] == ["0", "0", "no", "1"]
            jobs = {j.findtext("id"): j for j in
                    ET.fromstring(c.get("/jobs", {"format": "xml"})[1]).iter("job")}
            assert jobs["spring"].findtext("paused") == "yes"
            assert int(jobs["spring"].findtext("rcp")) == 2
            assert int(jobs["summer"].findtext("delivered")) == 1
            # Queue age: the held recipients wait, so the oldest waiting one ages (per queue and
            # overall); the queues it left empty say 0.
            wait_for(lambda: c.get("/status.json")[1]["queue"]["oldest_age_seconds"] >= 1, 10,
                     "the held mail ages")
            ages = {q["name"]: q["oldest_age_seconds"] for q in c.get("/queues.json")[1]["queues"]}
            assert ages["example.net/{default}"] >= 1 and ages["example.org/{default}"] >= 1

            rc, out, err = ctl(c.url, "resume", "job", "spring")
            assert rc == 0 and "(2 recipients)" in out, err
            wait_for(lambda: len(records(d, "d")) == 3, 20, "spring's recipients delivered")
            assert {r["rcpt"] for r in records(d, "d") if r["jobId"] == "spring"} == {
                "s1@example.net", "s2@example.org"}

            # delete --jobId: a paused job's queued mail is bounced (no DSN); the other job's
            # stays and is delivered.
            assert ctl(c.url, "pause", "job", "autumn")[0] == 0
            send(d, "autumn", ["a1@example.net", "a2@example.net"])
            send(d, "winter", ["w1@example.net"])
            wait_for(lambda: len(records(d, "d")) == 4, 20, "winter delivered")
            wait_for(lambda: c.get("/status.json")[1]["queue"]["recipients"] == 2, 10,
                     "autumn queued")
            rc, out, err = ctl(c.url, "delete", "--jobId=autumn")
            assert rc == 0 and "(2 recipients)" in out, err
            wait_for(lambda: len(records(d, "b")) == 2, 10, "autumn's b records")
            assert {r["rcpt"] for r in records(d, "b")} == {"a1@example.net", "a2@example.net"}
            assert {r["jobId"] for r in records(d, "b")} == {"autumn"}
            wait_for(lambda: c.get("/status.json")[1]["queue"]["recipients"] == 0, 10, "empty")
            assert c.get("/status.json")[1]["queue"]["oldest_age_seconds"] == 0
            status, body = c.get("/jobs.json")
            jsonschema.validate(body, doc_schemas()["jobs"])  # docs/status-api.md
            autumn = next(j for j in body["jobs"] if j["id"] == "autumn")
            assert autumn["deleted"] == 2 and autumn["recipients"] == 0
            # Unknown jobs are named as such; control needs admin.
            rc, out, err = ctl(c.url, "resume", "job", "nope")
            assert rc == 1 and "no such job" in err
            assert c.post("/api/job/pause", {"job": "x"}, source="127.0.0.3")[0] == 403
            assert sim.stats()["totals"]["recipients_accepted"] == 4
        finally:
            d.close()
