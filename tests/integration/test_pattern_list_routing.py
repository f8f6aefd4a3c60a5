"""<pattern-list> in a <source>: each message goes through the virtual MTA its sender, a header or
its recipient chooses, as the accounting file's `r` records show in their vmta field; a recipient
the list routes differently from its transaction's first one is answered 452 4.5.3 and goes
through its own virtual MTA when sent again; mail no line matches keeps default-virtual-mta.
"""
import smtplib

from harness.delivery import wait_records
from harness.outpostd import OutpostD

ROUTING = r"""
<virtual-mta news>
  smtp-source-host 127.0.0.1 news.outpost.test
</virtual-mta>
<virtual-mta tx>
  smtp-source-host 127.0.0.1 tx.outpost.test
</virtual-mta>
<virtual-mta google>
  smtp-source-host 127.0.0.1 google.outpost.test
</virtual-mta>
<virtual-mta fallback>
  smtp-source-host 127.0.0.1 fallback.outpost.test
</virtual-mta>
<pattern-list routing>
  mail-from /@news\.example\.com/ virtual-mta=news
  header X-Campaign /^transactional/i virtual-mta=tx   # a comment after the line
  rcpt-to /@gmail\.test/ virtual-mta=google
</pattern-list>
"""

SOURCES = """
<source 127.0.0.1>
  always-allow-relaying yes
  pattern-list routing
  default-virtual-mta fallback
</source>
"""


def send(client, sender, recipients, headers=""):
    return client.sendmail(sender, recipients,
                           f"From: {sender}\r\n{headers}Subject: routed\r\n\r\nbody\r\n")


def test_pattern_list_chooses_the_vmta_seen_in_accounting():
    with OutpostD(extra_config=ROUTING, sources=SOURCES) as mta:
        with smtplib.SMTP(mta.host, mta.port, timeout=10) as client:
            assert send(client, "a@news.example.com", ["n@gmail.test"]) == {}
            assert send(client, "shop@example.com", ["t@gmail.test"],
                        "X-Campaign: Transactional receipt\r\n") == {}
            refused = send(client, "shop@example.com", ["g@gmail.test", "o@other.test"])
            assert list(refused) == ["o@other.test"]
            assert refused["o@other.test"][0] == 452
            assert send(client, "shop@example.com", ["o@other.test"]) == {}
        records = wait_records(mta, "r", 4)
    vmta = {r["rcpt"]: r["vmta"] for r in records}
    assert vmta == {"n@gmail.test": "news", "t@gmail.test": "tx", "g@gmail.test": "google",
                    "o@other.test": "fallback"}, vmta
