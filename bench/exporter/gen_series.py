#!/usr/bin/env python3
"""Accounting file that makes the exporter export many series (scrape-cost measurement).

usage: gen_series.py RECORDS VMTAS OUT
Records cycle through every (vmta, recipient domain, type d/b/t) combination, so the exporter ends
up with about VMTAS x providers x 3 series of outpost_acct_records_total alone (run it with
--max-vmtas >= VMTAS).
"""
import sys

HEADER = ("type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,"
          "srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,"
          "envId,queue,vmtaPool")
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "aol.com", "icloud.com", "comcast.net",
           "gmx.de", "example.org"]
KINDS = [("d", "relayed", "2.0.0", "success"), ("b", "failed", "5.1.1", "bad-mailbox"),
         ("t", "delayed", "4.2.2", "quota-issues")]


def main(n, vmtas, out):
    with open(out, "w", newline="") as f:
        f.write(HEADER + "\r\n")
        for i in range(n):
            v = i % vmtas
            d = DOMAINS[(i // vmtas) % len(DOMAINS)]
            k, action, status, cat = KINDS[(i // (vmtas * len(DOMAINS))) % len(KINDS)]
            f.write(f"{k},2025-11-22 10:00:{i % 60:02d}+0000,2025-11-22 10:00:00+0000,"
                    f"bounce@news.example,user{i}@{d},,{action},{status} (x),smtp;250 ok,"
                    f"mx.{d} (192.0.2.1),{cat},smtp,app (198.51.100.1),smtp,203.0.113.{i % 50},"
                    f"192.0.2.1,,{1000 + i % 5000},vmta{v},job1,,{d}/vmta{v},pool1\r\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
