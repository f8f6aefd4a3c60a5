"""PowerMTA-style configurations (issue #16, step 1) against the real outpostd binary.

* tests/data/powermta/main.conf (a byte-order mark, CRLF, a glob include, an include inside a
  <virtual-mta>, a list continued after commas, <spool PATH>, PowerMTA's value spellings) passes
  --check-config with its summary line;
* real PowerMTA directives Outpost lacks are named as such, with the summary after the errors;
* the <source> header directives take effect, as the receiving server sees the message;
* total-max-smtp-in caps inbound connections like max-smtp-in.
"""
import email
import os
import shutil
import smtplib
import subprocess

from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, SmtpWire, binary, wait_for

DATA = os.path.join(os.environ.get("OUTPOST_SOURCE", os.path.join(os.path.dirname(__file__),
                                                                  "..", "..")),
                    "tests", "data", "powermta")


def check(path):
    run = subprocess.run([binary("outpostd"), "--check-config", str(path)], capture_output=True,
                         text=True, timeout=30)
    return run.returncode, run.stdout, run.stderr


def test_powermta_style_file_with_includes_passes(tmp_path):
    conf = tmp_path / "powermta"
    shutil.copytree(DATA, conf)
    code, out, err = check(conf / "main.conf")
    assert code == 0, err
    assert "configuration OK" in out
    assert "read from 4 files: 0 errors, 0 notices" in out, out


def test_unsupported_powermta_directives_are_named_then_summarized(tmp_path):
    path = tmp_path / "pmta.conf"
    path.write_text("smtp-listener 127.0.0.1:0\n"          # 1
                    "spool spool\n"                          # 2
                    "dummy-smtp-port 2525\n"                 # 3
                    "<virtual-mta v1>\n"                     # 4
                    "  smtp-source-host 127.0.0.1 v1.test\n"  # 5
                    "  <domain *>\n"                         # 6
                    "    max-msg-rate 10/h\n"                # 7
                    "  </domain>\n"                          # 8
                    "</virtual-mta>\n"                       # 9
                    "<domain *>\n"                           # 10
                    "  max-data-volume-rate 10M/h\n"         # 11
                    "</domain>\n"                            # 12
                    "include missing/*.conf\n")              # 13
    code, _, err = check(path)
    assert code != 0
    lines = err.strip().splitlines()
    assert f"{path}:3: 'dummy-smtp-port' is a PowerMTA directive not supported by Outpost" in err
    assert f"{path}:6:" not in err  # a <domain> inside <virtual-mta> is accepted
    assert f"{path}:11: 'max-data-volume-rate' is a PowerMTA directive" in err
    assert "did you mean" not in err and "duplicate" not in err, err
    assert f"{path}:13: include 'missing/*.conf' matched no file (notice)" in err
    assert lines[-1].endswith("read from 1 file: 2 errors, 1 notice"), lines[-1]


HEADER_SOURCES = """
<source 127.0.0.1>
  always-allow-relaying yes
  remove-received-headers yes
  add-message-id-header no
  add-date-header yes
  remove-header X-Mailer-Internal,x-originating-ip
</source>
"""


def test_source_header_directives_as_the_receiver_sees_them(tmp_path):
    maildir = tmp_path / "maildir"
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim:
        route = f"<domain *>\n  route [127.0.0.1]:{sim.port}\n</domain>\n"
        with OutpostD(extra_config=route, sources=HEADER_SOURCES) as mta:
            msg = ("Received: from app1.internal by app2.internal; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                   "Received: from laptop by app1.internal; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                   "From: news@example.com\r\nTo: a@example.net\r\nSubject: headers\r\n"
                   "X-Mailer-Internal: campaign-tool 3.1\r\nX-Originating-IP: [10.1.2.3]\r\n"
                   "\r\nbody\r\n")
            with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
                assert client.sendmail("news@example.com", ["a@example.net"], msg) == {}

            def delivered():
                new = maildir / "new"
                files = list(new.iterdir()) if new.exists() else []
                return files[0] if files else None
            path = wait_for(delivered, timeout=30, what="the message at the receiver")
    received = email.message_from_bytes(path.read_bytes())
    traces = received.get_all("Received") or []
    assert len(traces) == 1 and "(Outpost)" in traces[0], traces
    assert received["X-Mailer-Internal"] is None
    assert received["X-Originating-IP"] is None
    assert received["Message-ID"] is None
    assert received["Date"] is not None
    assert received["Subject"] == "headers"


def test_total_max_smtp_in_caps_inbound_connections():
    with OutpostD(extra_config="total-max-smtp-in 2\n") as mta:
        held = [mta.connect(), mta.connect()]
        try:
            for s in held:
                assert SmtpWire(s).reply()[0] == 220
            extra = mta.connect()
            try:
                assert SmtpWire(extra).reply()[0] == 421
            finally:
                extra.close()
        finally:
            for s in held:
                s.close()


LOGGING_SOURCES = """
<source 127.0.0.1>
  always-allow-relaying yes
  log-commands yes
</source>
"""


def test_log_commands_writes_each_command_and_reply_but_not_the_message():
    with OutpostD(sources=LOGGING_SOURCES) as mta:
        with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
            client.ehlo("logged.example")
            refused = client.sendmail("news@example.com", ["a@example.net"],
                                      "Subject: s\r\n\r\nsecret body line\r\n")
            assert refused == {}
        text = wait_for(lambda: "<- QUIT" in mta.log_text() and mta.log_text(),
                        what="the QUIT command in the log")
    assert "<- ehlo logged.example -> 250" in text, text
    assert "<- mail FROM:<news@example.com>" in text, text
    assert "<- rcpt TO:<a@example.net> -> 250" in text, text
    assert "<- data -> 354" in text, text
    assert "secret body line" not in text
