"""The <source> directives of real PowerMTA configurations against the real daemon (issue #16):

* jobid-header / process-x-job / retain-x-job / retain-x-virtual-mta / process-x-envid: the
  accounting `r` records' jobId and envId, and the headers as the receiver sees them;
* log-data: the first lines of a message in the log, bounded;
* allow-starttls, allow-unencrypted-plain-auth, require-starttls-before-auth: what EHLO offers
  and whether AUTH works in clear (smtplib);
* smtp-max-auth-failure-rate: one failure an hour from this source, then 454 on the next AUTH.
"""
import email
import smtplib

from harness.delivery import wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for

VMTA = """
<virtual-mta v1>
  smtp-source-host 127.0.0.1 v1.outpost.test
</virtual-mta>
"""

HEADER_SOURCES = """
<source 127.0.0.1>
  always-allow-relaying yes
  process-x-job yes
  jobid-header X-Mailer-RecptId
  retain-x-job yes
  process-x-virtual-mta yes
  retain-x-virtual-mta yes
  process-x-envid yes
  log-data yes
</source>
"""


def test_job_envid_and_retained_headers_as_accounted_and_received(tmp_path):
    maildir = tmp_path / "maildir"
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim:
        route = f"<domain *>\n  route [127.0.0.1]:{sim.port}\n</domain>\n{VMTA}"
        with OutpostD(extra_config=route, sources=HEADER_SOURCES) as mta:
            body = "".join(f"line {i} of a long body\r\n" for i in range(200))
            msg = ("From: news@example.com\r\nTo: a@example.net\r\nSubject: logged subject\r\n"
                   "X-Mailer-RecptId: recpt-4711\r\nX-Job: old-job\r\nX-Virtual-MTA: v1\r\n"
                   "X-EnvID: env-0042\r\n\r\n" + body)
            with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
                assert client.sendmail("news@example.com", ["a@example.net"], msg) == {}
            r = wait_records(mta, "r", 1)[0]
            assert (r["jobId"], r["envId"], r["vmta"]) == ("recpt-4711", "env-0042", "v1"), r

            def delivered():
                new = maildir / "new"
                return next(iter(new.iterdir()), None) if new.exists() else None
            path = wait_for(delivered, timeout=30, what="the message at the receiver")
            log = mta.log_text()
    received = email.message_from_bytes(path.read_bytes())
    assert received["X-Mailer-RecptId"] == "recpt-4711"  # the job header stays
    assert received["X-Job"] == "old-job"                 # retain-x-job
    assert received["X-Virtual-MTA"] == "v1"              # retain-x-virtual-mta
    assert received["X-EnvID"] is None                    # process-x-envid removes it
    # log-data: the start of the message, then how much was left out.
    assert "data: Subject: logged subject" in log, log
    assert "data: line 0 of a long body" in log
    assert "line 150 of a long body" not in log
    assert "the rest not logged)" in log


USERS = """
<smtp-user alice>
  password s3cret
  source {auth}
</smtp-user>
<source {auth}>
  always-allow-relaying yes
</source>
"""


def auth_sources(lines):
    return f"<source 127.0.0.1>\n  always-allow-relaying no\n{lines}</source>\n"


def ehlo_features(mta):
    with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
        client.ehlo("c.example")
        return set(client.esmtp_features)


def test_starttls_and_auth_in_clear_per_source():
    with OutpostD(extra_config=USERS, tls=True,
                  sources=auth_sources("  allow-starttls no\n"
                                       "  allow-unencrypted-plain-auth yes\n")) as mta:
        features = ehlo_features(mta)
        assert "starttls" not in features and "auth" in features, features
        with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
            assert client.login("alice", "s3cret")[0] == 235
            assert client.sendmail("a@example.com", ["b@example.net"], "Subject: s\r\n\r\nb\r\n") \
                == {}
    with OutpostD(extra_config=USERS, tls=True,
                  sources=auth_sources("  allow-unencrypted-plain-auth yes\n"
                                       "  require-starttls-before-auth yes\n")) as mta:
        features = ehlo_features(mta)
        assert "starttls" in features and "auth" not in features, features
        with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
            client.ehlo("c.example")
            code, _ = client.docmd("AUTH", "PLAIN AGFsaWNlAHMzY3JldA==")
            assert code == 538


def test_smtp_max_auth_failure_rate_blocks_after_the_rate():
    sources = auth_sources("  allow-unencrypted-plain-auth yes\n"
                           "  smtp-max-auth-failure-rate 1/h\n")
    with OutpostD(extra_config=USERS + "smtp-in-auth-failure-delay 1s\n", sources=sources) as mta:
        with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
            client.ehlo("c.example")
            assert client.docmd("AUTH", "PLAIN AGFsaWNlAHdyb25n")[0] == 535  # wrong password
        with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
            client.ehlo("c.example")
            assert client.docmd("AUTH", "PLAIN AGFsaWNlAHMzY3JldA==")[0] == 454  # right one
