"""postmaster: the DSN outpostd sends for a hard bounce comes from the configured address (as the
sender's domain receives it, the simulator's --maildir), its text names it for help, and its
envelope sender stays empty; without `postmaster` it comes from MAILER-DAEMON@host-name.
"""
import smtplib

import pytest

from harness.delivery import maildir_messages, wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for

REPLY = "550 5.1.1 no such user"


def bounce_dsn(tmp_path, extra_config):
    maildir = tmp_path / "maildir"
    sim_config = (f'<domain gone.test>\n  bounce-ratio 1.0 "{REPLY}"\n</domain>\n'
                  f'<domain *> accept </domain>\n')
    with IspSim(tmp_path / "sim", sim_config, maildir=maildir) as sim:
        config = f"<domain *>\n  route [127.0.0.1]:{sim.port}\n</domain>\n{extra_config}"
        with OutpostD(extra_config=config) as mta:
            with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
                client.sendmail("news@sender.test", ["ann@gone.test"],
                                "From: news@sender.test\r\nSubject: will bounce\r\n"
                                "Message-ID: <pm@sender.test>\r\n\r\nbody\r\n")
            wait_records(mta, "b", 1, timeout=30)
            dsns = wait_for(lambda: maildir_messages(maildir), 30, "the DSN in the maildir")
            assert len(dsns) == 1
            return dsns[0]


@pytest.mark.parametrize("extra, sender, help_line", [
    ("postmaster mail-admin@sender-mta.test\n", "mail-admin@sender-mta.test", True),
    ("", "MAILER-DAEMON@outpost.test", False),
])
def test_dsn_comes_from_the_postmaster(tmp_path, extra, sender, help_line):
    dsn = bounce_dsn(tmp_path, extra)
    assert dsn["From"] == f"Mail Delivery System <{sender}>"
    assert dsn["To"] == "<news@sender.test>"
    # The envelope sender of a DSN is always the null sender (RFC 3464); the maildir shows it.
    assert dsn["Return-Path"] in (None, "<>"), dsn["Return-Path"]
    text = dsn.get_payload()[0].get_payload(decode=True).decode()
    assert ("write to the postmaster of this mail system: <mail-admin@sender-mta.test>"
            in text) == help_line, text
