"""The return path watched: outpostd turns real reports into rb and f accounting records, the
exporter counts them by provider, bounce category / feedback type and vmta, and the status API
shows today's remote bounces and complaints per provider. PowerMTA's own rb and f records (with
its feedbackType column) count the same way. promtool checks the live scrape."""
import shutil
import subprocess

from harness.exporter import total
from harness.mgmt import MGMT_CONFIG, MgmtClient
from harness.outpostd import OutpostD, give_to_daemon_user, wait_for
from test_exporter_acct import running  # noqa: F401 (the fixture starting exporters)
from test_mgmt_outpostctl import ctl
from test_returnpath import CONFIG, DATA, _records, _send_from_outside

REPORTS = [
    ("gmail-bounce.eml", "bounces+dave=gmail.com@bounce.sender.example"),  # rb dave@gmail.com
    ("exim-bounce.eml", "bounces+bob=lists.example.org@bounce.sender.example"),  # rb, other
    ("arf-abuse.eml", "fbl@fbl.sender.example"),  # f frank@isp.example
]


def promtool_check(text):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed (bash scripts/install-deps.sh)"
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_daemon_records_are_counted_and_shown_today(tmp_path, running):
    rp_acct = tmp_path / "returnpath.csv"
    provider_map = tmp_path / "providers.txt"
    provider_map.write_text("gmail.com gmail\nisp.example isp\n")
    give_to_daemon_user(tmp_path)
    with OutpostD(extra_config=CONFIG.format(path=rp_acct) + MGMT_CONFIG) as mta:
        for name, recipient in REPORTS:
            assert _send_from_outside(mta, "", recipient, (DATA / name).read_text()) == {}
        wait_for(lambda: len(_records(rp_acct)) == 3, timeout=30, what="2 rb and 1 f records")

        # The status API: today's counts per provider (the daemon's default provider map).
        c = MgmtClient(mta)

        def today():
            status, s = c.get("/status.json")
            assert status == 200
            by = s["returnpath"]["by_provider"]
            return s["returnpath"] if sum(p["remote_bounces"] + p["complaints"]
                                          for p in by.values()) == 3 else None

        rp = wait_for(today, timeout=15, what="3 return-path records in /status.json")
        assert rp["by_provider"] == {"gmail": {"remote_bounces": 1, "complaints": 0},
                                     "other": {"remote_bounces": 1, "complaints": 1}}
        status, page = c.get("/")
        assert status == 200 and 'id="returnpath"' in page
        # outpostctl show status prints the same table.
        rc, out, err = ctl(c.url, "show", "status")
        assert rc == 0, err
        table = out.split("return path ", 1)[1].splitlines()
        assert table[0].split()[1:] == ["(UTC)", "remote", "bounces", "complaints"]
        assert [line.split() for line in table[1:3]] == [["gmail", "1", "0"], ["other", "1", "1"]]

    e = running("--acct-path", str(rp_acct), "--state-file", str(tmp_path / "state.json"),
                 "--provider-map", str(provider_map), "--from-start")
    s = e.wait_for(lambda s: total(s, "outpost_acct_records_total") >= 3, what="3 records")
    assert total(s, "outpost_acct_remote_bounces_total", provider="gmail",
                 category="bad-mailbox") == 1
    assert total(s, "outpost_acct_remote_bounces_total", provider="other",
                 category="inactive-mailbox") == 1
    # Outpost's f records carry the report's Feedback-Type in their feedbackType column.
    assert total(s, "outpost_acct_feedback_reports_total", provider="isp",
                 feedback_type="abuse") == 1
    assert total(s, "outpost_acct_feedback_reports_total", feedback_type="unknown") == 0
    assert total(s, "outpost_acct_records_total", type="remote_bounce") == 2
    assert total(s, "outpost_acct_records_total", type="feedback_loop") == 1
    text = e.scrape_text()
    for address in ["dave@gmail.com", "frank@isp.example", "bob@lists.example.org"]:
        assert address not in text
    promtool_check(text)


POWERMTA_FILE = (
    "type,timeLogged,orig,rcpt,dsnStatus,dsnDiag,bounceCat,vmta,format,feedbackType,userAgent,"
    "reportingMta\r\n"
    "rb,2026-12-04 10:00:00+0000,bounces@example.com,dan@hotmail.com,5.1.1,"
    "smtp;550 5.1.1 unknown,bad-mailbox,pmta-a,,,,\r\n"
    "f,2026-12-04 10:01:00+0000,bounces@example.com,fay@yahoo.com,,,,pmta-b,arf,abuse,"
    "Yahoo!-Mail-Feedback/2.0,mta.yahoo.com\r\n"
    "f,2026-12-04 10:02:00+0000,bounces@example.com,gus@gmail.com,,,,pmta-b,arf,not-spam,"
    "Example/1.0,mx.example\r\n")


def test_powermta_rb_and_f_records_are_counted(tmp_path, running):
    (tmp_path / "acct-pmta.csv").write_text(POWERMTA_FILE, newline="")
    e = running("--acct-path", str(tmp_path / "acct-*.csv"), "--state-file",
                 str(tmp_path / "state.json"), "--from-start")
    s = e.wait_for(lambda s: total(s, "outpost_acct_records_total") >= 3, what="3 records")
    assert total(s, "outpost_acct_remote_bounces_total", provider="microsoft",
                 category="bad-mailbox", vmta="pmta-a") == 1
    assert total(s, "outpost_acct_feedback_reports_total", provider="yahoo",
                 feedback_type="abuse", vmta="pmta-b") == 1
    assert total(s, "outpost_acct_feedback_reports_total", provider="gmail",
                 feedback_type="not-spam", vmta="pmta-b") == 1
    assert total(s, "outpost_exporter_malformed_lines_total") == 0
    promtool_check(e.scrape_text())
