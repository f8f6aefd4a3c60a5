"""Helpers for the delivery-engine integration tests (tests/integration/test_delivery_*.py).

Accounting records, injection over SMTP, and waits on conditions with deadlines (no timing sleeps).
"""
import email
import os
import smtplib

from harness.outpostd import wait_for


def records(mta, kind=None):
    """Accounting records (dicts), optionally only of one type; [] before the file exists."""
    try:
        rows = mta.acct_records()
    except FileNotFoundError:
        return []
    return [r for r in rows if kind is None or r["type"] == kind]


def wait_records(mta, kind, count, timeout=30, where=lambda r: True):
    """Waits until at least `count` records of `kind` satisfying `where` exist; returns them."""
    def ready():
        rows = [r for r in records(mta, kind) if where(r)]
        return rows if len(rows) >= count else None
    return wait_for(ready, timeout, f"{count} {kind} record(s)")


def message(i, sender="news@app.test", to="x@example.test", body_size=200, mid_prefix="m"):
    mid = f"<{mid_prefix}-{i}@app.test>"
    text = (f"From: {sender}\r\nTo: {to}\r\nSubject: test {i}\r\nMessage-ID: {mid}\r\n\r\n" +
            ("x" * 70 + "\r\n") * max(1, body_size // 72))
    return mid, text


def inject(mta, sender, recipients_per_message, mid_prefix="m", headers=""):
    """Sends one message per entry of `recipients_per_message`; returns their Message-IDs."""
    ids = []
    with smtplib.SMTP(mta.host, mta.port, timeout=30) as client:
        for i, rcpts in enumerate(recipients_per_message):
            mid, text = message(i, sender or "news@app.test", rcpts[0], mid_prefix=mid_prefix)
            refused = client.sendmail(sender, rcpts, headers + text)
            assert refused == {}
            ids.append(mid)
    return ids


def log_has(mta, text):
    return text in mta.log_text()


def maildir_messages(maildir):
    new = os.path.join(str(maildir), "new")
    if not os.path.isdir(new):
        return []
    out = []
    for name in sorted(os.listdir(new)):
        with open(os.path.join(new, name), "rb") as f:
            out.append(email.message_from_bytes(f.read()))
    return out


def reroute_star_to(mta, port):
    """Rewrites a stopped daemon's config so <domain *> routes to 127.0.0.1:port with retry-after
    1s (from a route that refused mail and retry-after 1h): the next start delivers what waited."""
    with open(mta.config_path) as f:
        text = f.read()
    refuser_route = text.split("<domain *>\n  route ")[1].split("\n")[0]
    text = text.replace(refuser_route, f"[127.0.0.1]:{port}")
    text = text.replace("retry-after 1h", "retry-after 1s")
    with open(mta.config_path, "w") as f:
        f.write(text)
