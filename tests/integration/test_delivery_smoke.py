"""End to end: outpostd delivers what it accepted to the ISP simulator (route override, no DNS).

Asserts the simulator counted every message and recipient, the accounting file has one `d` record
per recipient with the queue/vmta fields filled, and the spool is empty afterwards.
"""
import smtplib

from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for

N_MESSAGES = 20


def _d_records(mta):
    try:
        return [r for r in mta.acct_records() if r["type"] == "d"]
    except FileNotFoundError:
        return []


def test_delivers_to_isp_sim_with_d_records(tmp_path):
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n") as sim:
        route = (f"<domain *>\n  route [127.0.0.1]:{sim.port}\n"
                 f"  max-smtp-out 4\n  max-rcpt-per-transaction 2\n</domain>\n")
        with OutpostD(extra_config=route) as mta:
            with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
                for i in range(N_MESSAGES):
                    msg = (f"From: news@example.com\r\nTo: a{i}@example.net\r\n"
                           f"Subject: smoke {i}\r\nMessage-ID: <smoke-{i}@example.com>\r\n\r\n"
                           f"body {i}\r\n")
                    refused = client.sendmail("news@example.com",
                                              [f"a{i}@example.net", f"b{i}@example.org",
                                               f"c{i}@example.net"], msg)
                    assert refused == {}
            records = wait_for(lambda: len(_d_records(mta)) == 3 * N_MESSAGES and _d_records(mta),
                               timeout=30, what="d records for every recipient")
            stats = sim.stats()
            # One transaction per (message, queue): example.net (2 rcpts) and example.org (1).
            assert stats["totals"]["messages"] == 2 * N_MESSAGES
            assert stats["totals"]["recipients_accepted"] == 3 * N_MESSAGES
            assert {r["queue"] for r in records} == {"example.net/{default}",
                                                    "example.org/{default}"}
            for r in records:
                assert r["dsnAction"] == "relayed"
                assert r["bounceCat"] == "success"
                assert r["dsnStatus"].startswith("2.")
                assert r["dlvDestinationIp"] == "127.0.0.1"
                assert r["dsnDiag"].startswith("smtp;250")
                assert r["vmta"] == "{default}"
                assert r["orig"] == "news@example.com"
            # max-smtp-out 4 is per queue and there are two queues (idle connections stay open
            # for idle_connection_timeout); test_delivery_shaping proves the per-queue limit.
            assert stats["clients"]["127.0.0.1"]["connections_peak"] <= 2 * 4
            assert mta.stop() == 0
            messages, summary = mta.list_spool()
            assert summary["messages"] == 0, messages


def test_deferral_writes_t_record_and_keeps_message(tmp_path):
    sim_config = ('<domain example.net>\n  defer-ratio 1.0 "451 4.7.0 try again later"\n'
                  '</domain>\n<domain *> accept </domain>\n')
    with IspSim(tmp_path / "sim", sim_config) as sim:
        route = f"<domain *>\n  route [127.0.0.1]:{sim.port}\n</domain>\n"
        with OutpostD(extra_config=route) as mta:
            with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
                client.sendmail("news@example.com", ["ann@example.net"],
                                "Subject: t\r\n\r\nbody\r\n")

            def t_records():
                try:
                    return [r for r in mta.acct_records() if r["type"] == "t"]
                except FileNotFoundError:
                    return []

            records = wait_for(t_records, timeout=30, what="a t record")
            assert records[0]["dsnAction"] == "delayed"
            assert "451 4.7.0 try again later" in records[0]["dsnDiag"]
            assert mta.stop() == 0
            messages, summary = mta.list_spool()
            assert summary["messages"] == 1
            assert messages[0]["recipients"] == ["ann@example.net"]
