#!/usr/bin/env python3
"""Synthetic PowerMTA-format accounting files for Outpost's tests and benchmarks.

usage:
  gen_acct.py fixtures [--out DIR] [--check]   the committed test files (default DIR: this folder)
  gen_acct.py bulk RECORDS OUT.csv [--seed N]  a large file for benchmarks (bench/exporter/run.sh)

`fixtures` writes acct-default.csv, acct-imprinted-unixtime.csv and acct-categories.csv (what each
holds and why: README.md). With --check it writes nothing: it generates the files in memory and
exits 1, naming the first difference, when a file in DIR is missing or differs; the unit test
`testdata_up_to_date` runs it, so the committed files never drift from this generator.

Everything is deterministic: a fixed seed per file (`bulk`: --seed, default 1), no wall clock, no
dependence on the Python version's hash order. Python's random.Random(seed) gives the same
sequence on every Python 3 for the calls used here (random(), randrange(), choice()).

Format (docs/powermta.md, "Accounting file"): a header line naming the columns (first column
`type`), RFC 4180 quoting, CRLF line ends. The replies are the wording real receivers use (Gmail,
Microsoft, Yahoo/AOL, GMX, iCloud, Comcast, a plain Postfix or Exim site), with made-up addresses,
IPs from the documentation ranges and random ids. Failures that outpostd itself reports (no MX,
connect timeout, lost connection, expiry, 8-bit conversion) use outpostd's own wording
(mta/queue/queue_manager.cpp). dsnStatus is written as outpostd writes it (DsnStatusText in
mta/delivery/reply_classifier.cpp), and bounceCat is the category PowerMTA's default rules give the
reply (docs/powermta.md, "Bounce categories"); tests/unit/delivery/reply_classifier_test.cpp
checks every outcome record against Outpost's classifier.
"""
import argparse
import os
import random
import sys
import time

DEFAULT_HEADER = [
    "type", "timeLogged", "timeQueued", "orig", "rcpt", "orcpt", "dsnAction", "dsnStatus",
    "dsnDiag", "dsnMta", "bounceCat", "srcType", "srcMta", "dlvType", "dlvSourceIp",
    "dlvDestinationIp", "dlvEsmtpAvailable", "dlvSize", "vmta", "jobId", "envId", "queue",
    "vmtaPool"]
IMPRINTED_HEADER = (DEFAULT_HEADER[:3] + ["timeImprinted"] + DEFAULT_HEADER[3:] +
                    ["header_X-Job", "header_Subject"])

# 2025-11-22 10:00:00 UTC: every fixture time is an offset from here.
T0 = 1763805600

# ---- RFC 3463 status names, as outpostd's dsnStatus writes them ---------------------------------
STATUS_NAMES = {
    "0.0": "other undefined status", "1.0": "other address status",
    "1.1": "bad destination mailbox address", "1.2": "bad destination system address",
    "1.3": "bad destination mailbox address syntax",
    "1.4": "destination mailbox address ambiguous", "1.5": "destination address valid",
    "1.6": "destination mailbox has moved, no forwarding address",
    "1.7": "bad sender's mailbox address syntax", "1.8": "bad sender's system address",
    "2.0": "other or undefined mailbox status", "2.1": "mailbox disabled, not accepting messages",
    "2.2": "mailbox full", "2.3": "message length exceeds administrative limit",
    "2.4": "mailing list expansion problem", "3.0": "other or undefined mail system status",
    "3.1": "mail system full", "3.2": "system not accepting network messages",
    "3.3": "system not capable of selected features", "3.4": "message too big for system",
    "3.5": "system incorrectly configured", "4.0": "other or undefined network or routing status",
    "4.1": "no answer from host", "4.2": "bad connection", "4.3": "directory server failure",
    "4.4": "unable to route", "4.5": "mail system congestion", "4.6": "routing loop detected",
    "4.7": "delivery time expired", "5.0": "other or undefined protocol status",
    "5.1": "invalid command", "5.2": "syntax error", "5.3": "too many recipients",
    "5.4": "invalid command arguments", "5.5": "wrong protocol version",
    "6.0": "other or undefined media error", "6.1": "media not supported",
    "6.2": "conversion required and prohibited", "6.3": "conversion required but not supported",
    "6.4": "conversion with loss performed", "6.5": "conversion failed",
    "7.0": "other or undefined security status", "7.1": "delivery not authorized, message refused",
    "7.2": "mailing list expansion prohibited",
    "7.3": "security conversion required but not possible", "7.4": "security features not supported",
    "7.5": "cryptographic failure", "7.6": "cryptographic algorithm not supported",
    "7.7": "message integrity failure",
}


def dsn_status(code):
    """"5.1.1" -> "5.1.1 (bad destination mailbox address)"; "550" -> "5.0.0 (...)"."""
    parts = code.split(".")
    if len(parts) == 3:
        cls, sd = parts[0], parts[1] + "." + parts[2]
        if cls == "2":
            return code + " (success)"
        if sd in STATUS_NAMES:
            return "%s (%s)" % (code, STATUS_NAMES[sd])
        s0 = parts[1] + ".0"
        if s0 in STATUS_NAMES:
            return "%s.%s (%s)" % (cls, s0, STATUS_NAMES[s0])
        return cls + ".0.0 (other undefined status)"
    cls = code[0]
    return cls + ".0.0 (success)" if cls == "2" else cls + ".0.0 (other undefined status)"


def reply_status(reply):
    """The status code outpostd writes for a receiver's reply ("550 5.1.1 ..." or "550-5.1.1
    ..."): its enhanced code, else the reply code's class, "5.0.0"."""
    enhanced = reply[4:].split(" ", 1)[0]
    p = enhanced.split(".")
    if len(p) == 3 and all(x.isdigit() for x in p) and p[0] in ("2", "4", "5"):
        return enhanced
    return reply[0] + ".0.0"


# ---- receivers ---------------------------------------------------------------------------------
# Per mailbox provider: its domains (with weights for the bulk mix), its MX and address, what it
# offers after EHLO, and replies by category. A reply is the receiver's text as outpostd's dsnDiag
# carries it after "smtp;": the code, the enhanced code once, the lines joined with a space. A
# reply starting "CODE-" keeps PowerMTA's form of a multi-line reply (its first line's prefix).
# Placeholders: {ip} our source address, {rcpt}, {gid} a Google id, {hex} {n} {id} random ids,
# {host} a Microsoft server name, {unix} the time.
PROVIDERS = {
    "gmail": {
        "domains": [("gmail.com", 38), ("googlemail.com", 2)],
        "mx": ("gmail-smtp-in.l.google.com", "192.0.2.27"),
        "esmtp": "PIPELINING,8BITMIME,SIZE,STARTTLS,ENHANCEDSTATUSCODES,CHUNKING,SMTPUTF8",
        "replies": {
            "success": ["250 2.0.0 OK  {unix} {gid} - gsmtp"],
            "bad-mailbox": [
                "550 5.1.1 The email account that you tried to reach does not exist. Please try "
                "double-checking the recipient's email address for typos or unnecessary spaces. "
                "For more information, go to https://support.google.com/mail/?p=NoSuchUser "
                "{gid} - gsmtp"],
            "quota-issues": [
                "452 4.2.2 The email account that you tried to reach is over quota. Please direct "
                "the recipient to https://support.google.com/mail/?p=OverQuotaTemp {gid} - gsmtp"],
            "policy-related": [
                "421 4.7.28 [{ip}] Our system has detected an unusual rate of unsolicited mail "
                "originating from your IP address. To protect our users from spam, mail sent from "
                "your IP address has been temporarily rate limited. Please visit "
                "https://support.google.com/mail/?p=UnsolicitedRateLimitError to review our Bulk "
                "Email Senders Guidelines. {gid} - gsmtp",
                "550 5.7.1 [{ip}] Messages missing a valid address in From: header, or having no "
                "From: header, are not accepted. {gid} - gsmtp"],
            "spam-related": [
                "550 5.7.1 [{ip}] Our system has detected that this message is likely unsolicited "
                "mail. To reduce the amount of spam sent to Gmail, this message has been blocked. "
                "For more information, go to "
                "https://support.google.com/mail/?p=UnsolicitedMessageError {gid} - gsmtp"],
            "other": [
                "421 4.3.0 Temporary System Problem.  Try again later (10). For more information, "
                "go to https://support.google.com/a/answer/3221692 {gid} - gsmtp",
                "452 4.5.3 Your message has too many recipients. For more information regarding "
                "Google's sending limits, go to "
                "https://support.google.com/mail/?p=TooManyRecipientsError {gid} - gsmtp"],
        },
    },
    "microsoft": {
        "domains": [("outlook.com", 8), ("hotmail.com", 10), ("live.com", 3), ("hotmail.co.uk", 1)],
        "mx": ("{dash}.olc.protection.outlook.com", "192.0.2.80"),
        "esmtp": "PIPELINING,SIZE,STARTTLS,8BITMIME,ENHANCEDSTATUSCODES,BINARYMIME,CHUNKING",
        "replies": {
            "success": [
                "250 2.6.0 <{hex}@news.example.com> [InternalId={n}, Hostname={host}] "
                "Queued mail for delivery"],
            "bad-mailbox": [
                "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [{host}]",
                "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient {rcpt} not found by SMTP "
                "address lookup"],
            "policy-related": [
                "451 4.7.650 The mail server [{ip}] has been temporarily rate limited due to IP "
                "reputation. For e-mail delivery information, see https://postmaster.live.com "
                "(S775) [{host}]",
                "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [{host}]"],
            "spam-related": [
                "550 5.7.1 Unfortunately, messages from [{ip}] weren't sent. Please contact your "
                "Internet service provider since part of their network is on our block list "
                "(S3150). You can also refer your provider to "
                "http://mail.live.com/mail/troubleshooting.aspx#errors. [{host}]"],
            "quota-issues": [
                "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException."
                "MapiExceptionShutoffQuotaExceeded [{host}]"],
            "relaying-issues": ["550 5.7.64 TenantAttribution; Relay Access Denied [{host}]"],
        },
    },
    "yahoo": {
        "domains": [("yahoo.com", 12), ("ymail.com", 1), ("yahoo.co.uk", 2)],
        "mx": ("mta7.am0.yahoodns.net", "192.0.2.35"),
        "esmtp": "PIPELINING,SIZE,STARTTLS,8BITMIME",
        "replies": {
            "success": ["250 ok dirdel"],
            "bad-mailbox": ["552 1 Requested mail action aborted, mailbox not found"],
            "inactive-mailbox": [
                "554 delivery error: dd Sorry your message to {rcpt} cannot be delivered. This "
                "mailbox is disabled (554.30). - mta{m}.mail.bf1.yahoo.com"],
            "other": [
                "421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected "
                "volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"],
            "policy-related": [
                "554 5.7.9 Message not accepted for policy reasons.  See "
                "https://postmaster.yahooinc.com/error-codes"],
            "spam-related": [
                "553 5.7.1 [BL21] Connections will not be accepted from {ip}, because the ip is in "
                "Spamhaus's list; see https://postmaster.yahooinc.com/error-codes"],
        },
    },
    "aol": {
        "domains": [("aol.com", 3)],
        "mx": ("mx-aol.mail.gm0.yahoodns.net", "192.0.2.36"),
        "esmtp": "PIPELINING,SIZE,STARTTLS,8BITMIME",
        "replies": {
            "success": ["250 ok dirdel"],
            "inactive-mailbox": [
                "554 delivery error: dd Sorry your message to {rcpt} cannot be delivered. This "
                "mailbox is disabled (554.30). - mta{m}.mail.gq1.yahoo.com"],
            "policy-related": [
                "554 5.7.1 [CS01] Message rejected due to local policy. Please visit "
                "https://postmaster.yahooinc.com/error-codes"],
        },
    },
    "gmx": {
        "domains": [("gmx.de", 3), ("web.de", 1), ("gmx.net", 1)],
        "mx": ("mx00.emig.gmx.net", "192.0.2.50"),
        "esmtp": "8BITMIME,SIZE,STARTTLS",
        "replies": {
            "success": ["250 Requested mail action okay, completed: id={id}"],
            "bad-mailbox": ["550 Requested action not taken: mailbox unavailable"],
            "spam-related": [
                "554 gmx.net (mxgmx017) Nemesis ESMTP Service not available No SMTP service IP "
                "address is block listed. For explanation visit "
                "https://postmaster.gmx.net/en/case?c=r0301&i=ip&v={ip}&r={id}"],
        },
    },
    "apple": {
        "domains": [("icloud.com", 3), ("me.com", 1)],
        "mx": ("mx01.mail.icloud.com", "192.0.2.60"),
        "esmtp": "PIPELINING,SIZE,STARTTLS,8BITMIME,ENHANCEDSTATUSCODES",
        "replies": {
            "success": ["250 2.0.0 Ok: queued as {id}"],
            "bad-mailbox": ["550 5.1.1 <{rcpt}>: user does not exist"],
            "quota-issues": ["452 4.2.2 <{rcpt}>: user is over quota"],
        },
    },
    "comcast": {
        "domains": [("comcast.net", 2)],
        "mx": ("mx1a1.comcast.net", "192.0.2.70"),
        "esmtp": "PIPELINING,SIZE,STARTTLS,8BITMIME,ENHANCEDSTATUSCODES",
        "replies": {
            "success": ["250 2.0.0 {id} mail accepted for delivery"],
            "bad-mailbox": ["550 5.1.1 <{rcpt}> Not our Customer"],
            "inactive-mailbox": ["550 5.2.1 <{rcpt}> Mailbox disabled for this recipient"],
            "spam-related": [
                "554 5.7.1 {ip} Comcast block for spam.  Please see "
                "http://postmaster.comcast.net/smtp-error-codes.php#BL000000"],
        },
    },
    # A company's own Postfix (or Exim, for the replies Postfix does not give) server.
    "site": {
        "domains": [("example.org", 10), ("example.net", 3)],
        "mx": ("mx.{d}", "192.0.2.90"),
        "esmtp": "PIPELINING,SIZE,STARTTLS,ENHANCEDSTATUSCODES,8BITMIME,DSN,SMTPUTF8",
        "replies": {
            "success": ["250 2.0.0 Ok: queued as {id}"],
            "bad-mailbox": [
                "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox "
                "table"],
            "quota-issues": ["552 5.2.2 <{rcpt}>: Recipient address rejected: Mailbox is full"],
            "policy-related": [
                "450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, see "
                "https://postgrey.schweikert.ch/help/{d}.html"],
            "spam-related": [
                "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; "
                "https://www.spamhaus.org/query/ip/{ip}"],
            "relaying-issues": ["554 5.7.1 <{rcpt}>: Relay access denied"],
            "content-related": ["550 5.7.1 message content rejected"],
            "virus-related": [
                "550 This message contains a virus (Eicar-Test-Signature) and has been rejected"],
            "bad-configuration": ["451 4.3.5 Server configuration problem"],
            "routing-errors": ["550 Unrouteable address", "554 5.4.6 Too many hops"],
            "protocol-errors": ["501 5.5.4 Syntax error in parameters or arguments",
                                "503 5.5.1 Bad sequence of commands"],
            "bad-connection": ["421 4.4.2 mx.{d} Error: timeout exceeded"],
        },
    },
}

# Failures outpostd reports itself, in its own words (mta/queue/queue_manager.cpp): the record
# type, dsnStatus code, dsnDiag after "smtp;", bounceCat.
OWN_FAILURES = {
    "no-answer-from-host": ("tq", "4.4.1", "connect to {addr}:25: connection timed out"),
    "bad-connection": ("t", "4.4.2",
                       "connection lost: timeout after 10m waiting for the reply to the final dot"),
    "bad-domain": ("b", "5.1.2", "550 5.1.2 {d}: nxdomain (Domain name not found)"),
    "bad-domain-null-mx": ("b", "5.1.2", "550 5.1.2 {d}: null-mx"),
    "message-expired": ("b", "5.4.7",
                        "554 5.4.7 message expired: in queue longer than bounce-after 4d12h"),
    "other-8bit": ("b", "5.6.3",
                   "554 5.6.3 Conversion required but not possible: 8-bit bytes in the header "
                   "field Subject; the receiving server does not offer 8BITMIME"),
}

PROVIDER_OF = {d: (name, p) for name, p in PROVIDERS.items() for d, _ in p["domains"]}
ALL_DOMAINS = set(PROVIDER_OF)
VMTA_IPS = {"vmta1": "203.0.113.10", "vmta2": "203.0.113.11", "vmta3": "203.0.113.12"}
SOURCE = "app.example.com (198.51.100.163)"


def fmt_time(t, offset_minutes=0):
    """PowerMTA's default time format, in a zone `offset_minutes` east of UTC."""
    local = time.gmtime(t + offset_minutes * 60)
    sign = "+" if offset_minutes >= 0 else "-"
    off = abs(offset_minutes)
    return time.strftime("%Y-%m-%d %H:%M:%S", local) + "%s%02d%02d" % (sign, off // 60, off % 60)


def csv_field(value):
    """RFC 4180: quoted (quotes doubled) when it holds a comma, a quote or a line end."""
    if '"' in value or "," in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_line(fields, raw=()):
    """One record, CRLF-terminated. Columns in `raw` are written as they are: PowerMTA writes a
    quoted local part unescaped ("Quoted, Sender"@example.com), which RFC 4180 calls malformed and
    readers must accept anyway."""
    return ",".join(f if i in raw else csv_field(f) for i, f in enumerate(fields)) + "\r\n"


class Ids:
    """Random-looking ids that real replies carry, from the file's own random generator."""

    def __init__(self, rnd):
        self.rnd = rnd

    def hexid(self, n):
        return "%0*X" % (n, self.rnd.getrandbits(4 * n))

    def fill(self, text, rcpt="", domain="", ip="", unix=0):
        """`text` with its placeholders replaced (random ones drawn only when present)."""
        if "{" not in text:
            return text
        r = self.rnd
        subs = {
            "{ip}": lambda: ip, "{rcpt}": lambda: rcpt, "{d}": lambda: domain,
            "{dash}": lambda: domain.replace(".", "-"), "{unix}": lambda: str(unix),
            "{gid}": lambda: "%s-%s%s%d.%d" % (self.hexid(13).lower(), self.hexid(11).lower(),
                                             r.choice(["si", "sor"]), r.randrange(10 ** 7),
                                             r.randrange(1000)),
            "{hex}": lambda: self.hexid(16), "{n}": lambda: str(r.randrange(10 ** 12, 10 ** 13)),
            "{id}": lambda: self.hexid(10), "{m}": lambda: str(r.randrange(1000, 10000)),
            "{host}": lambda: "AM%dPR0%dMB%d.eurprd0%d.prod.outlook.com" % (
                r.randrange(10), r.randrange(1, 9), r.randrange(1000, 10000), r.randrange(1, 9)),
        }
        for k, make in subs.items():
            if k in text:
                text = text.replace(k, make())
        return text


def provider_of(domain):
    return PROVIDER_OF[domain]


def mx_of(p, domain, ids):
    return ids.fill(p["mx"][0], domain=domain), p["mx"][1]


class Record(dict):
    """One accounting record by column name; absent columns are empty."""

    def line(self, header, raw=()):
        fields = [self.get(name, "") for name in header]
        return csv_line(fields, [header.index(n) for n in raw])


def outcome(kind, domain, category, reply, rcpt, vmta, ids, t_logged, t_queued, size, job,
            own_status=None, orig="news@example.com", offset=0, env_id="", orcpt="",
            connected=True):
    """A d, b, t or tq record for `reply`. `own_status`: the status outpostd (or PowerMTA) gave
    the failure itself instead of the reply's; `connected`: False for failures found without a
    connection (no MX, expiry), which leave the delivery columns empty."""
    name, p = provider_of(domain) if domain in ALL_DOMAINS else (None, None)
    ip = VMTA_IPS[vmta]
    if p is not None:
        mx_name, mx_ip = mx_of(p, domain, ids)
        esmtp = p["esmtp"]
    else:  # a domain that does not exist: no MX, no connection
        mx_name, mx_ip, esmtp = "", "", ""
    text = ids.fill(reply, rcpt=rcpt, domain=domain, ip=ip, unix=t_logged).replace("{addr}", mx_ip)
    status = own_status or reply_status(text)
    action = {"d": "relayed", "b": "failed", "t": "delayed", "tq": "delayed"}[kind]
    r = Record(type=kind, timeLogged=fmt_time(t_logged, offset), dsnAction=action,
               dsnStatus=dsn_status(status), dsnDiag="smtp;" + text, bounceCat=category,
               dlvType="smtp", vmta=vmta, queue="%s/%s" % (domain, vmta))
    if mx_name and connected:
        r.update(dsnMta="%s (%s)" % (mx_name, mx_ip), dlvSourceIp=ip, dlvDestinationIp=mx_ip,
                 dlvEsmtpAvailable=esmtp if kind != "tq" else "")  # tq: no EHLO was answered
    if kind != "tq":  # a queue's connection failure concerns no one message
        r.update(timeQueued=fmt_time(t_queued, offset), orig=orig, rcpt=rcpt, orcpt=orcpt,
                 srcType="smtp", srcMta=SOURCE, dlvSize=str(size), jobId=job, envId=env_id,
                 vmtaPool="pool1")
    return r



def received(rcpt, vmta, t, size, job, orig="news@example.com"):
    return Record(type="r", timeLogged=fmt_time(t), timeQueued=fmt_time(t), orig=orig, rcpt=rcpt,
                  srcType="smtp", srcMta=SOURCE, dlvSize=str(size), vmta=vmta, jobId=job,
                  vmtaPool="pool1")


def reply_for(provider, category, rnd):
    return rnd.choice(PROVIDERS[provider]["replies"][category])


# ---- the fixtures ------------------------------------------------------------------------------

def acct_default():
    """The default header; 1 r, 2 d, 1 t, 2 b (bad-mailbox, message-expired), 1 tq. Quoting: a
    job id with a comma and quotes (doubled), a quoted sender written raw as PowerMTA does, a
    dlvEsmtpAvailable list."""
    rnd = random.Random(1)
    ids = Ids(rnd)
    job = 'spring "vip" sale, week 47'
    size = 4000 + rnd.randrange(1000)
    out = [",".join(DEFAULT_HEADER) + "\r\n"]
    out.append(received("ann@gmail.com", "vmta1", T0, size, job).line(DEFAULT_HEADER))
    out.append(outcome("d", "gmail.com", "success", reply_for("gmail", "success", rnd),
                       "ann@gmail.com", "vmta1", ids, T0 + 2, T0, size, job).line(DEFAULT_HEADER))
    # Gmail's rate limit as PowerMTA logs a multi-line reply: the first line, with its dash.
    rate = ("421-4.7.28 [{ip}] Our system has detected an unusual rate of unsolicited mail "
            "originating from your IP address. To protect our users from spam, mail sent from your "
            "IP address has been temporarily rate limited.")
    out.append(outcome("t", "gmail.com", "policy-related", rate, "bob@gmail.com", "vmta1", ids,
                       T0 + 3, T0, size, job).line(DEFAULT_HEADER))
    out.append(outcome("b", "outlook.com", "bad-mailbox",
                       PROVIDERS["microsoft"]["replies"]["bad-mailbox"][0], "nobody@outlook.com",
                       "vmta2", ids, T0 + 4, T0, size, job).line(DEFAULT_HEADER))
    kind, status, diag = OWN_FAILURES["no-answer-from-host"]
    tq = outcome(kind, "example.net", "no-answer-from-host", diag, "", "vmta1", ids, T0 + 5, 0, 0,
                 "", own_status=status)
    out.append(tq.line(DEFAULT_HEADER))
    # Expired after 4 days of Yahoo's deferrals, logged as PowerMTA does: its own status 4.4.7
    # with the last deferral's reply as the diagnostic.
    out.append(outcome("b", "yahoo.com", "message-expired",
                       PROVIDERS["yahoo"]["replies"]["other"][0], "carol@yahoo.com", "vmta3", ids,
                       T0 + 6, T0 - 4 * 86400, size, job, own_status="4.4.7")
               .line(DEFAULT_HEADER))
    gmx = outcome("d", "gmx.de", "success", PROVIDERS["gmx"]["replies"]["success"][0],
                  "dave@gmx.de", "vmta1", ids, T0 + 7, T0 - 1, 88123, "",
                  orig='"Quoted, Sender"@example.com', env_id="ENV-42", orcpt="rfc822;dave@gmx.de")
    out.append(gmx.line(DEFAULT_HEADER, raw=("orig",)))
    return "".join(out)


def acct_imprinted():
    """timeImprinted and header_* columns, times in UNIX seconds; 1 d, 1 b (policy-related),
    1 t (policy-related)."""
    rnd = random.Random(2)
    ids = Ids(rnd)
    out = [",".join(IMPRINTED_HEADER) + "\r\n"]
    subject = 'Hello, world: "50%" off'
    rows = [
        ("d", "gmail.com", "success", reply_for("gmail", "success", rnd), "ann@gmail.com",
         "vmta1"),
        ("b", "aol.com", "policy-related", reply_for("aol", "policy-related", rnd), "zed@aol.com",
         "vmta3"),
        ("t", "hotmail.com", "policy-related", PROVIDERS["microsoft"]["replies"]["policy-related"][0],
         "eve@hotmail.com", "vmta2"),
    ]
    for i, (kind, domain, cat, reply, rcpt, vmta) in enumerate(rows):
        r = outcome(kind, domain, cat, reply, rcpt, vmta, ids, T0 + 2 + i, T0, 4211, "J1")
        r.update(timeLogged=str(T0 + 2 + i), timeQueued=str(T0), timeImprinted=str(T0))
        r["header_X-Job"] = "J1"
        r["header_Subject"] = subject
        out.append(r.line(IMPRINTED_HEADER))
    return "".join(out)


def acct_categories():
    """Every bounce category Outpost's classifier assigns, with real receivers' replies and
    outpostd's own failures, over every provider; successes at each provider."""
    rnd = random.Random(3)
    ids = Ids(rnd)
    plan = []  # (kind, domain, category, reply, own_status)
    for name, p in PROVIDERS.items():
        for category, replies in p["replies"].items():
            for reply in replies:
                domain = rnd.choice([d for d, _ in p["domains"]])
                code = reply_status(reply.replace("{ip}", "x"))
                kind = "d" if category == "success" else ("b" if code[0] == "5" else "t")
                plan.append((kind, domain, category, reply, None))
    for key, (kind, status, diag) in OWN_FAILURES.items():
        category = key.split("-null")[0].replace("other-8bit", "other")
        domain = {"bad-domain": "gmial.com", "bad-domain-null-mx": "nomail.example.com"}.get(
            key, rnd.choice(["example.org", "example.net", "yahoo.com", "gmx.de"]))
        plan.append((kind, domain, category, diag, status))
    # PowerMTA's form of an expiry: its own 4.4.7 with the last deferral's reply.
    plan.append(("b", "yahoo.com", "message-expired", PROVIDERS["yahoo"]["replies"]["other"][0],
                 "4.4.7"))
    rnd.shuffle(plan)
    out = [",".join(DEFAULT_HEADER) + "\r\n"]
    t = T0
    for i, (kind, domain, category, reply, own) in enumerate(plan):
        t += rnd.randrange(1, 30)
        queued = t - (4 * 86400 + 12 * 3600 if category == "message-expired" else
                      rnd.randrange(1, 3600))
        vmta = rnd.choice(sorted(VMTA_IPS))
        rcpt = "user%d@%s" % (i, domain)
        # Some sites log local time: a few records carry another zone's offset.
        offset = rnd.choice([0, 0, 0, 0, 60, -300, 330])
        r = outcome(kind, domain, category, reply, rcpt, vmta, ids, t, queued,
                    2000 + rnd.randrange(90000), "job%d" % rnd.randrange(1, 6), own_status=own,
                    offset=offset, connected=own not in ("5.1.2", "5.4.7"))
        out.append(r.line(DEFAULT_HEADER))
    return "".join(out)


FIXTURES = [("acct-default.csv", acct_default), ("acct-imprinted-unixtime.csv", acct_imprinted),
            ("acct-categories.csv", acct_categories)]


def fixtures(out_dir, check):
    stale = []
    for name, make in FIXTURES:
        data = make().encode()
        path = os.path.join(out_dir, name)
        if check:
            try:
                with open(path, "rb") as f:
                    have = f.read()
            except OSError as e:
                stale.append("%s: missing (%s)" % (path, e.strerror))
                continue
            if have != data:
                a, b = have.split(b"\r\n"), data.split(b"\r\n")
                line = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
                stale.append("%s: differs from the generator's output at line %d" % (path, line + 1))
        else:
            with open(path, "wb") as f:
                f.write(data)
            print("wrote %s (%d bytes, %d records)" % (path, len(data), data.count(b"\r\n") - 1))
    if stale:
        for s in stale:
            print(s, file=sys.stderr)
        print("regenerate them: python3 tests/data/gen_acct.py fixtures", file=sys.stderr)
        return 1
    if check:
        print("test data up to date: %s" % ", ".join(n for n, _ in FIXTURES))
    return 0


# ---- bulk --------------------------------------------------------------------------------------
# About 90 % d, 7 % t, 3 % b, as a newsletter sender sees them; deferrals are mostly rate limits,
# bounces mostly unknown mailboxes. No tq records and no quotes inside fields, so that mtail's
# line-oriented program (bench/exporter/acct.mtail) counts every record too.
BULK_T = [("policy-related", 6), ("other", 2), ("quota-issues", 1)]
BULK_B = [("bad-mailbox", 6), ("inactive-mailbox", 1), ("spam-related", 1), ("policy-related", 1),
          ("quota-issues", 1)]


def weighted(pairs):
    out = []
    for value, weight in pairs:
        out += [value] * weight
    return out


def bulk(n, out_path, seed):
    rnd = random.Random(seed)
    ids = Ids(rnd)
    domains = weighted([(d, w) for p in PROVIDERS.values() for d, w in p["domains"]])
    vmtas = ["vmta%d" % i for i in range(1, 9)]
    for i, v in enumerate(vmtas):
        VMTA_IPS.setdefault(v, "203.0.113.%d" % (10 + i))

    # Per provider and kind, the (category, reply) pairs to draw from, weighted: a deferral is a
    # 4xx reply, a bounce a 5xx one.
    def choices(p, cats, cls):
        out = []
        for category, weight in cats:
            for reply in p["replies"].get(category, []):
                if reply_status(reply)[0] == cls:
                    out += [(category, reply)] * weight
        return out

    pools = {name: {"d": [("success", r) for r in p["replies"]["success"]],
                    "t": choices(p, BULK_T, "4"), "b": choices(p, BULK_B, "5")}
             for name, p in PROVIDERS.items()}
    with open(out_path, "w", newline="", buffering=1 << 20) as f:
        f.write(",".join(DEFAULT_HEADER) + "\r\n")
        for i in range(n):
            x = rnd.random()
            kind = "d" if x < 0.90 else ("t" if x < 0.97 else "b")
            domain = rnd.choice(domains)
            while not pools[PROVIDER_OF[domain][0]][kind]:  # no such reply there: another domain
                domain = rnd.choice(domains)
            category, reply = rnd.choice(pools[PROVIDER_OF[domain][0]][kind])
            queued = T0 + i // 50
            logged = queued + rnd.randrange(3600)
            r = outcome(kind, domain, category, reply, "user%d@%s" % (i, domain),
                        rnd.choice(vmtas), ids, logged, queued, 2000 + rnd.randrange(88000),
                        "job%d" % rnd.randrange(1, 51), orig="bounce@news.example.com")
            f.write(r.line(DEFAULT_HEADER))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    fx = sub.add_parser("fixtures", help="the committed test files")
    fx.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    fx.add_argument("--check", action="store_true", help="compare, write nothing")
    bk = sub.add_parser("bulk", help="a large file for benchmarks")
    bk.add_argument("records", type=int)
    bk.add_argument("out")
    bk.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.cmd == "fixtures":
        return fixtures(args.out, args.check)
    bulk(args.records, args.out, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
