"""Faulty receivers: whatever the receiving MX (outpost-isp-sim's scripted faults) or DNS does,
a message that got 250 is retried per policy and finally delivered, never lost and never bounced.

| fault (simulator directive)             | expected                                           |
|-----------------------------------------|----------------------------------------------------|
| drop-mid-data-ratio 0.5 (FIN mid-DATA)  | every message delivered; failed tries are t records|
| reset-mid-data-ratio 0.5 (RST mid-DATA) | same                                               |
| garbage-reply-ratio 0.5 (after the dot) | same (the garbage is not taken for a 250)          |
| split-replies + multi-line 421 defers   | same: replies parsed whole across 3-byte packets   |
| silent-after-data-ratio 0.5 (no reply   | each silent try is a t record naming              |
| to the final dot)                       | smtp-data-termination-timeout; all delivered       |
| silent-greeting-ratio 0.5 (no 220)      | each silent try is a tq record naming the greeting |
|                                         | timeout; all delivered                             |
| DNS SERVFAIL / DNS timeout              | deferred (tq records), never bounced, kept         |

TLS handshake failures (plain-text fallback, require-starttls) are in test_delivery_tls_fallback.py.
Waits are on accounting records and simulator stats with deadlines; retry-after is 1s.
"""
import socket
import threading

import pytest

from harness.delivery import inject, records, wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for
from harness.reliability import figures, sim_ids

N = 12

FAULTS = [
    ("drop_mid_data", "<domain f.test>\n  drop-mid-data-ratio 0.5\n</domain>\n"),
    ("reset_mid_data", "<domain f.test>\n  reset-mid-data-ratio 0.5\n</domain>\n"),
    ("garbage_reply", "<domain f.test>\n  garbage-reply-ratio 0.5\n</domain>\n"),
    ("split_multiline_defer",
     'split-replies yes\n<domain f.test>\n  defer-ratio 0.5 "421-4.7.28 first line\\n'
     '421-4.7.28 second line\\n421 4.7.28 last line"\n</domain>\n'),
]


@pytest.mark.parametrize("label,sim_config", FAULTS, ids=[f[0] for f in FAULTS])
def test_faulty_receiver_retried_until_delivered(tmp_path, label, sim_config):
    with IspSim(tmp_path / "sim", sim_config + "<domain *> accept </domain>\n") as sim:
        config = (f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1s\n"
                  f"  max-msg-per-connection 1\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            ids = inject(mta, "app@sender.test", [[f"u{i}@f.test"] for i in range(N)],
                         mid_prefix=label)
            d = wait_records(mta, "d", N, timeout=90)
            got = sim_ids(sim)
            t = records(mta, "t")
            stats = sim.stats()["totals"]
            figures(f"receiver_{label}", messages=N, delivered=len({r["rcpt"] for r in d}),
                    lost=sum(1 for mid in ids if got[mid] == 0),
                    bounced=len(records(mta, "b")), retries=len(t),
                    duplicates=sum(n - 1 for n in got.values() if n > 1))
            assert all(got[mid] >= 1 for mid in ids), (ids, got)
            assert records(mta, "b") == []
            assert len({r["rcpt"] for r in d}) == N
            # The fault really happened and was retried (a t record per failed try).
            assert len(t) >= N // 2, t
            if label == "split_multiline_defer":
                assert stats["recipients_deferred"] >= N // 2
                # The whole multi-line reply was read (its last line is in the record).
                assert any("last line" in r["dsnDiag"] for r in t), [r["dsnDiag"] for r in t]
            elif label == "garbage_reply":
                assert stats["garbage_replies"] >= N // 2
            elif label == "reset_mid_data":
                assert stats["reset_mid_data"] >= N // 2
            else:
                assert stats["dropped_mid_data"] >= N // 2
            assert mta.stop() == 0
            _, summary = mta.list_spool()
            assert summary["messages"] == 0


SILENT = [
    # (label, simulator config, outpostd timeout directive, accounting type, dsnDiag text)
    ("after_data", "<domain f.test>\n  silent-after-data-ratio 0.5\n</domain>\n",
     "smtp-data-termination-timeout 2s", "t",
     "timeout after 2s waiting for the reply to the final dot"),
    ("greeting", "silent-greeting-ratio 0.5\n", "smtp-greeting-timeout 2s", "tq",
     "timeout after 2s waiting for the greeting"),
]


@pytest.mark.parametrize("label,sim_config,directive,kind,diag", SILENT,
                         ids=[s[0] for s in SILENT])
def test_silent_receiver_times_out_and_is_retried(tmp_path, label, sim_config, directive, kind,
                                                  diag):
    n = 6
    with IspSim(tmp_path / "sim", sim_config + "<domain *> accept </domain>\n") as sim:
        # The default timeouts (5m, 10m) would hold the test for minutes: the directive is what
        # ends each silent try in 2 s.
        config = (f"<domain *>\n  route [127.0.0.1]:{sim.port}\n  retry-after 1s\n"
                  f"  max-msg-per-connection 1\n  {directive}\n</domain>\n")
        with OutpostD(extra_config=config) as mta:
            ids = inject(mta, "app@sender.test", [[f"u{i}@f.test"] for i in range(n)],
                         mid_prefix=f"silent-{label}")
            d = wait_records(mta, "d", n, timeout=120)
            got = sim_ids(sim)
            deferred = records(mta, kind)
            totals = sim.stats()["totals"]
            silent = totals["silent_after_data" if label == "after_data" else "silent_greetings"]
            figures(f"receiver_silent_{label}", messages=n, delivered=len({r["rcpt"] for r in d}),
                    lost=sum(1 for mid in ids if got[mid] == 0), bounced=len(records(mta, "b")),
                    deferred_tries=len(deferred), silent_sessions=silent)
            assert all(got[mid] >= 1 for mid in ids), (ids, got)
            assert len({r["rcpt"] for r in d}) == n
            assert records(mta, "b") == []
            # The fault happened, and every try it hit was deferred by the configured timeout.
            assert silent >= 1
            assert len(deferred) >= 1
            assert all(diag in r["dsnDiag"] for r in deferred), [r["dsnDiag"] for r in deferred]
            if label == "after_data":
                # One t record per silent transaction (each carried one message).
                assert len(deferred) == silent, (len(deferred), silent)
            assert mta.stop() == 0
            _, summary = mta.list_spool()
            assert summary["messages"] == 0


class Servfail:
    """A UDP DNS server on loopback answering every query with SERVFAIL (rcode 2), or with
    nothing at all when `silent` (a DNS timeout)."""

    def __init__(self, silent=False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.silent = silent
        self.queries = 0
        self.done = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.done:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            if self.silent or len(data) < 12:
                continue
            # Same id and question; QR=1, opcode from the query, RD copied, RA=1, RCODE=2.
            flags = bytes([0x80 | (data[2] & 0x79), 0x80 | 2])
            self.sock.sendto(data[:2] + flags + data[4:6] + b"\0\0\0\0\0\0" + data[12:], peer)

    def close(self):
        self.done = True
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("label", ["servfail", "timeout"])
def test_dns_failure_defers_never_bounces(tmp_path, label):
    dns = Servfail(silent=label == "timeout")
    try:
        config = (f"dns-server 127.0.0.1:{dns.port}\n<domain *>\n  retry-after 1s\n"
                  f"</domain>\n")
        with OutpostD(extra_config=config) as mta:
            inject(mta, "app@sender.test", [["x@dns-broken.test"]], mid_prefix="dns")
            # Connection-level deferrals (tq records), queue held and retried.
            t = wait_records(mta, "tq", 2, timeout=90)
            assert dns.queries >= 2
            assert records(mta, "b") == [] and records(mta, "d") == []
            assert mta.stop() == 0
            _, summary = mta.list_spool()
            assert summary["messages"] == 1
            figures(f"dns_{label}", messages=1, deferred_tries=len(t), bounced=0, lost=0,
                    dns_queries=dns.queries)
    finally:
        dns.close()
