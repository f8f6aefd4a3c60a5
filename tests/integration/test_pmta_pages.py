"""PowerMTA's monitoring pages and `pmta`-style output, read from a live outpostd the way
PowerMTA users' scripts read them: XPath over /status?format=xml with xml.etree, the
`show vmtas` table cut by lines and columns (as Zabbix checks do with `tail`/`head`/`awk`), and
`--dom` lines split on '='. The figures must be the ones the daemon really holds: mail stays
queued (every domain is routed to a refusing port), SMTP sessions are held open."""
import json
import os
import smtplib
import subprocess
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from harness.mgmt import MgmtClient, start_outpostd
from harness.outpostd import binary, wait_for

VMTAS = "<virtual-mta v2>\n  smtp-source-host 127.0.0.2 v2.app.test\n</virtual-mta>\n"
SAMPLES = os.path.join(os.environ.get("OUTPOST_SOURCE",
                                      os.path.join(os.path.dirname(__file__), "../..")),
                       "tests", "data", "pmta")
# Elements Outpost adds to PowerMTA's lists (documented in docs/pmta-compat.md); every other
# path must be in both the guide-shaped sample and the live answer.
OUTPOST_EXTRAS = {
    "domains": {"/rsp/data/domain/msg", "/rsp/data/domain/vmtas",
                "/rsp/data/domain/pausedQueues", "/rsp/data/domain/backoffQueues"},
    "vmtas": {"/rsp/data/vmta/msg", "/rsp/data/vmta/pausedQueues",
              "/rsp/data/vmta/backoffQueues"},
    "queues": {"/rsp/data/queue/msg", "/rsp/data/queue/lastError"},
    "status": set(),
}


def ctl(url, *args):
    p = subprocess.run([binary("outpostctl"), "--url", url, *args], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def fetch_xml(url, page):
    sep = "&" if "?" in page else "?"
    with urllib.request.urlopen(f"{url}/{page}{sep}format=xml", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/xml")
        return ET.fromstring(r.read())


def paths(element, prefix=""):
    here = f"{prefix}/{element.tag}"
    out = {here}
    for child in element:
        out |= paths(child, here)
    return out


@pytest.fixture(scope="module")
def live():
    d = start_outpostd(extra_config=VMTAS)
    sessions = []
    try:
        with smtplib.SMTP(d.host, d.port, timeout=10) as s:
            s.sendmail("news@app.test", ["a@gmail.com", "b@gmail.com", "c@gmail.com",
                                         "d@yahoo.com"],
                       "X-Virtual-MTA: v2\r\nSubject: one\r\n\r\nhi\r\n")
            s.sendmail("news@app.test", ["e@yahoo.com", "f@yahoo.com"],
                       "Subject: two\r\n\r\nhi\r\n")
        c = MgmtClient(d)
        wait_for(lambda: c.get("/status.json")[1]["queue"]["recipients"] == 6, 15, "6 queued")
        for _ in range(2):  # two injection sessions held open: conn/smtpIn/cur
            s = smtplib.SMTP(d.host, d.port, timeout=10)
            s.ehlo("monitor.test")
            sessions.append(s)
        wait_for(lambda: c.get("/status.json")[1]["connections"]["smtp_in"] == 2, 15, "2 in")
        yield d, c
    finally:
        for s in sessions:
            s.close()
        d.close()


def test_status_xpath_reads_the_live_figures(live):
    d, c = live
    rsp = fetch_xml(c.url, "status")
    assert rsp.tag == "rsp"  # the Munin plugins' "valid PowerMTA status page" check
    assert int(rsp.find("./data/status/queue/smtp/rcp").text) == 6
    assert int(rsp.find("./data/status/queue/smtp/dom").text) == 2
    assert int(rsp.find(".//conn/smtpIn/cur").text) == 2
    assert int(rsp.find(".//traffic/total/in/msg").text) == 2
    assert int(rsp.find(".//traffic/total/in/rcp").text) == 6
    assert int(rsp.find(".//traffic/lastHr/in/rcp").text) == 6
    for method in ("pipe", "discard", "file", "gmImprinter"):
        assert rsp.find(f".//queue/{method}/rcp").text == "0"
    assert rsp.findtext(".//status/version").startswith("Outpost ")


def test_domains_vmtas_queues_pages(live):
    d, c = live
    domains = {e.findtext("name"): int(e.findtext("rcp"))
               for e in fetch_xml(c.url, "domains").iter("domain")}
    assert domains == {"gmail.com": 3, "yahoo.com": 3}
    vmtas = {e.findtext("name"): int(e.findtext("rcp"))
             for e in fetch_xml(c.url, "vmtas").iter("vmta")}
    assert vmtas == {"v2": 4, "{default}": 2}
    queues = {e.findtext("name"): int(e.findtext("rcp"))
              for e in fetch_xml(c.url, "queues").iter("queue")}
    assert queues == {"gmail.com/v2": 3, "yahoo.com/v2": 1, "yahoo.com/{default}": 2}
    one = fetch_xml(c.url, "queues?queue=yahoo.com&sort=name")
    assert [q.findtext("name") for q in one.iter("queue")] == ["yahoo.com/v2",
                                                              "yahoo.com/{default}"]
    status, body = c.get("/status", {"format": "json"})
    assert body["data"]["status"]["queue"]["smtp"]["rcp"] == 6
    status, body = c.get("/vmtas", {"format": "json"})
    assert [v["name"] for v in body["data"]["vmta"]] == ["v2", "{default}"]


def test_errors_and_access_control(live):
    d, c = live
    status, body, ctype = c.request("GET", "/status", {"format": "yaml"})
    assert status == 400 and "format must be xml or json" in body
    status, body, ctype = c.request("GET", "/jobs", {"format": "xml"})
    assert status == 200 and ET.fromstring(body).find("./data") is not None  # no X-Job: no job
    # Same http-access as every other path: 127.0.0.2 is not listed, 127.0.0.3 is monitor.
    assert c.get("/status", {"format": "xml"}, source="127.0.0.2")[0] == 403
    assert c.get("/status", {"format": "xml"}, source="127.0.0.3")[0] == 200


@pytest.mark.parametrize("page", ["status", "domains", "vmtas", "queues"])
def test_paths_match_the_guide_shaped_sample(live, page):
    d, c = live
    sample = paths(ET.parse(os.path.join(SAMPLES, f"{page}.xml")).getroot())
    ours = paths(fetch_xml(c.url, page))
    assert ours - OUTPOST_EXTRAS[page] == sample, (sorted(sample - ours), sorted(ours - sample))


def test_outpostctl_show_vmtas_table_as_zabbix_cuts_it(live):
    d, c = live
    rc, out, err = ctl(c.url, "show", "vmtas")
    assert rc == 0, err
    lines = out.splitlines()
    body = lines[2:-2]  # tail -n +3 | head -n -2
    sizes = {line.split()[0]: int(line.split()[2]) for line in body}  # awk '{print $1, $3}'
    assert sizes == {"v2": 4, "{default}": 2}
    assert lines[-1].split()[:3] == ["Total", "2", "6"]
    rc, out, err = ctl(c.url, "show", "topdomains")
    assert rc == 0, err
    assert {l.split()[0]: int(l.split()[2]) for l in out.splitlines()[2:-2]} == {
        "gmail.com": 3, "yahoo.com": 3}


def test_outpostctl_dom_lines(live):
    d, c = live
    rc, out, err = ctl(c.url, "--dom", "show", "status")
    assert rc == 0, err
    status = {}
    for line in out.splitlines():  # name="value", as scripts split `pmta --dom show status`
        name, value = line.split("=", 1)
        status[name] = value[1:-1]
    assert status["status.queue.smtp.rcp"] == "6"
    assert status["status.conn.smtpIn.cur"] == "2"
    assert status["status.traffic.total.in.rcp"] == "6"
    rc, out, err = ctl(c.url, "--dom", "show", "queues", "gmail.com")
    assert rc == 0, err
    assert 'queue.0.name="gmail.com/v2"' in out.splitlines()
    assert 'queue.0.rcp="3"' in out.splitlines()


def test_outpostctl_pmta_verbs(live):
    d, c = live
    rc, out, _ = ctl(c.url, "show", "license")
    assert rc == 0 and "no license" in out
    rc, out, err = ctl(c.url, "show", "settings")  # test_show_settings.py has the rest
    assert rc == 2 and "show settings DOMAIN[/VMTA]" in err
    rc, out, err = ctl(c.url, "show", "jobs")  # test_jobs.py has jobs; here only the frame
    assert rc == 0 and out.splitlines()[-1].split()[:2] == ["Total", "0"], err
    for args in (["resume", "job", "j1"], ["delete", "--jobId=j1"]):
        rc, out, err = ctl(c.url, *args)
        assert rc == 1 and "no such job: j1" in err, args
    # PowerMTA's DOMAIN/* names every queue of the domain.
    rc, out, err = ctl(c.url, "pause", "queue", "yahoo.com/*")
    assert rc == 0, err
    paused = {e.findtext("name") for e in fetch_xml(c.url, "queues?paused=yes").iter("queue")}
    assert paused == {"yahoo.com/v2", "yahoo.com/{default}"}
    assert ctl(c.url, "resume", "queue", "yahoo.com/*")[0] == 0
    assert not list(fetch_xml(c.url, "queues?paused=yes").iter("queue"))
    rc, out, _ = ctl(c.url, "--json", "show", "topdomains")
    assert rc == 0 and json.loads(out)["data"]["domain"][0]["rcp"] == 3
