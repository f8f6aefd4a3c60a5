"""deliver-local-dsn (docs/config.md): a DSN outpostd makes is sent only when the <domain> of its
recipient (the failed message's envelope sender) does not say `deliver-local-dsn no`; the bounce
itself is recorded either way (b records), and the log says why no DSN went."""
import smtplib

from harness.delivery import maildir_messages, wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for

REPLY = "550 5.1.1 no such user"


def test_no_dsn_for_a_sender_domain_with_deliver_local_dsn_no(tmp_path):
    maildir = tmp_path / "maildir"
    sim_config = (f'<domain gone.test>\n  bounce-ratio 1.0 "{REPLY}"\n</domain>\n'
                  f'<domain *> accept </domain>\n')
    with IspSim(tmp_path / "sim", sim_config, maildir=maildir) as sim:
        config = (f"<domain *>\n  route [127.0.0.1]:{sim.port}\n</domain>\n"
                  f"<domain quiet.test>\n  route [127.0.0.1]:{sim.port}\n"
                  f"  deliver-local-dsn no\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
                for sender in ("news@quiet.test", "news@loud.test"):
                    client.sendmail(sender, ["ann@gone.test"],
                                    f"From: {sender}\r\nSubject: will bounce\r\n\r\nbody\r\n")
            b = wait_records(mta, "b", 2, timeout=30)
            assert sorted(r["orig"] for r in b) == ["news@loud.test", "news@quiet.test"]
            wait_for(lambda: "DSN not sent (deliver-local-dsn no for quiet.test)" in mta.log_text(),
                     what="the log line for quiet.test")
            dsns = wait_for(lambda: maildir_messages(maildir), 30, "the DSN for loud.test")
            # Only loud.test's DSN; the spool keeps nothing of the quiet bounce.
            wait_for(lambda: len(wait_records(mta, "d", 1)) == 1, what="the DSN delivered")
            assert [m["To"] for m in maildir_messages(maildir)] == ["<news@loud.test>"]
            assert len(dsns) == 1
            assert mta.stop() == 0
            assert mta.list_spool()[1]["messages"] == 0
            assert sim.stats()["totals"]["messages"] >= 1
