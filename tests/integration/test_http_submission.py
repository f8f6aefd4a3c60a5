"""HTTP submission (docs/status-api.md, "HTTP submission") against the real daemon: messages posted
to /api/v1/transmissions with curl and urllib reach a real receiver, recipients get SMTP's verdicts
(suppressed: 550 5.7.1), access needs the submit level and an API key, bad input gets clear 4xx
answers, the per-key rate limit answers 429, a spool that refuses mail answers 503 with
Retry-After, and a 200 is durable: kill -9 right after it and the restarted daemon delivers it."""
import json
import subprocess
import urllib.error
import urllib.request

from harness.delivery import maildir_messages, reroute_star_to, wait_records
from harness.isp_sim import IspSim
from harness.mgmt import MgmtClient
from harness.outpostd import OutpostD, wait_for

KEY = "k3y-0123456789abcdef"
PATH = "/api/v1/transmissions"
MESSAGE = ("From: News <news@sender.example>\nTo: you@example.net\nSubject: over http\n"
           "Message-ID: <http-1@sender.example>\n\nHello over HTTP.\n")


def config(tmp_path, extra=""):
    keys = tmp_path / "api-keys"
    keys.write_text(f"# submitters\napp1 {KEY}\n")
    return ("http-mgmt-port 127.0.0.1:0\nhttp-access 127.0.0.1 admin\n"
            "http-access 127.0.0.3 monitor\nhttp-access 127.0.0.4 submit\n"
            f"http-api-key-file {keys}\nsuppression-list yes\n{extra}")


def body(recipients, **extra):
    doc = {"recipients": recipients, "return_path": "bounces@sender.example",
           "content": {"email_rfc822": MESSAGE}}
    doc.update(extra)
    return json.dumps(doc).encode()


def post(mta, data, key=KEY, source="127.0.0.4"):
    """urllib POST from `source`; returns (status, JSON answer, headers)."""
    client = MgmtClient(mta)
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(client.url + PATH, data=data, headers=headers, method="POST")
    # A source address of our choosing needs http.client; urllib cannot bind one.
    import http.client
    conn = http.client.HTTPConnection(client.host, client.port, timeout=30,
                                      source_address=(source, 0))
    try:
        conn.request("POST", PATH, body=data, headers=dict(request.header_items()))
        res = conn.getresponse()
        return res.status, json.loads(res.read()), dict(res.getheaders())
    finally:
        conn.close()


def curl(mta, data, key=KEY):
    """curl --interface 127.0.0.4; returns (status, JSON answer)."""
    url = MgmtClient(mta).url + PATH
    p = subprocess.run(["curl", "-sS", "--interface", "127.0.0.4", "-o", "-", "-w",
                        "\n%{http_code}", "-H", f"Authorization: Bearer {key}",
                        "-H", "Content-Type: application/json", "--data-binary", "@-", url],
                       input=data, capture_output=True, timeout=60, check=True)
    text, _, code = p.stdout.decode().rpartition("\n")
    return int(code), json.loads(text)


def test_submitted_mail_is_delivered_with_per_recipient_answers(tmp_path):
    maildir = tmp_path / "maildir"
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim:
        route = f"<domain *>\n  route [127.0.0.1]:{sim.port}\n</domain>\n"
        with OutpostD(extra_config=config(tmp_path, route)) as mta:
            admin = MgmtClient(mta)
            assert admin.post("/api/suppressions/add", {"address": "gone@example.org"})[0] == 200
            status, answer = curl(mta, body(
                [{"address": "you@example.net"}, {"address": {"email": "gone@example.org"}}],
                campaign_id="spring", options={"envid": "batch-7"}))
            assert status == 200, answer
            results = answer["results"]
            assert results["total_accepted_recipients"] == 1
            assert results["total_rejected_recipients"] == 1
            ok, refused = results["recipients"]
            assert (ok["address"], ok["accepted"], ok["code"]) == ("you@example.net", True, 250)
            assert (refused["accepted"], refused["code"], refused["enhanced_code"]) == \
                (False, 550, "5.7.1")
            assert "suppression list" in refused["reason"]
            # An unknown virtual MTA refuses the whole message (nothing queued), as X-Virtual-MTA.
            status, answer = curl(mta, body(["you@example.net"], options={"virtual_mta": "nope"}))
            assert status == 422 and "unknown virtual MTA nope" in answer["error"], answer
            # Accounting as for SMTP: an r record (srcType http), then the delivery.
            r = wait_records(mta, "r", 1)[0]
            assert (r["srcType"], r["rcpt"], r["jobId"], r["envId"]) == \
                ("http", "you@example.net", "spring", "batch-7")
            d = wait_records(mta, "d", 1)[0]
            assert d["rcpt"] == "you@example.net" and d["orig"] == "bounces@sender.example"
            delivered = wait_for(lambda: maildir_messages(maildir), what="the delivered message")
            assert len(delivered) == 1
            assert delivered[0]["Subject"] == "over http"
            assert "with HTTP" in delivered[0]["Received"]
            assert "X-Job" not in delivered[0]  # header processing as for SMTP
            assert sim.stats()["totals"]["recipients_accepted"] == 1


def test_access_keys_and_bad_input(tmp_path):
    extra = "http-submit-max-size 2K\nhttp-submit-rate 5/1h\n"
    with OutpostD(extra_config=config(tmp_path, extra)) as mta:
        good = body(["a@example.net"])
        # http-access: monitor and unlisted clients may not submit; submit may not read.
        assert post(mta, good, source="127.0.0.3")[0] == 403
        assert post(mta, good, source="127.0.0.2")[0] == 403
        assert MgmtClient(mta).get("/status.json", source="127.0.0.4")[0] == 403
        # API key: none or unknown is 401 (and not counted against the rate).
        status, answer, headers = post(mta, good, key=None)
        assert (status, answer["status"]) == (401, 401) and headers["WWW-Authenticate"] == "Bearer"
        assert post(mta, good, key="wrong-key-0123456789")[0] == 401
        # Bad input: 400 naming the problem, 413 too large; none of it is queued.
        for data, says in [(b"{not json", "not valid JSON"),
                           (json.dumps({"recipients": ["a@example.net"]}).encode(), "content"),
                           (body(["not-an-address"]), "bad recipient address"),
                           (body(["a@example.net"], substitution_data={"x": 1}), "not supported")]:
            status, answer, _ = post(mta, data)
            assert status == 400 and says in answer["error"], answer
        big = json.dumps({"recipients": ["a@example.net"], "return_path": "",
                          "content": {"email_rfc822": "S: x\r\n\r\n" + ("y" * 70 + "\r\n") * 45}}).encode()
        assert post(mta, big)[0] == 413
        # Rate 5/1h per key: the five refused requests above (400, 413) counted; the sixth is 429.
        status, answer, headers = post(mta, good)
        assert status == 429 and int(headers["Retry-After"]) >= 1, answer
        assert mta.stop() == 0
        assert mta.list_spool()[1]["messages"] == 0


def test_refusing_spool_answers_503_with_retry_after(tmp_path):
    # Far more free space demanded than the disk has: the spool refuses every commit.
    mta = OutpostD(extra_config=config(tmp_path))
    mta.config_text = mta.config_text.replace("spool-min-free 1M", "spool-min-free 100000G")
    with open(mta.config_path, "w") as f:
        f.write(mta.config_text)
    with mta:
        status, answer, headers = post(mta, body(["a@example.net"]))
        assert status == 503 and headers["Retry-After"] == "30", answer
        assert "the spool refuses mail" in answer["error"]
        assert mta.stop() == 0
        assert mta.list_spool()[1]["messages"] == 0


def test_a_200_survives_kill9_and_is_delivered_after_restart(tmp_path):
    maildir = tmp_path / "maildir"
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim:
        mta = OutpostD(extra_config=config(tmp_path))  # routes to a refusing port: mail stays
        try:
            mta.start()
            status, answer, _ = post(mta, body(["late@example.net"]))
            assert status == 200, answer
            mta.kill9()  # right after the answer
            reroute_star_to(mta, sim.port)
            mta.start()
            d = wait_records(mta, "d", 1, timeout=60)[0]
            assert d["rcpt"] == "late@example.net"
            assert len(wait_for(lambda: maildir_messages(maildir), what="delivery")) == 1
        finally:
            mta.close()
