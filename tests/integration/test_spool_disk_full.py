"""The spool on a small filesystem of its own: when it fills, new mail gets 452 4.3.1, nothing
already accepted is harmed, and acceptance resumes when space returns."""
import os
import smtplib
import subprocess
import tempfile

import pytest

from harness.outpostd import OutpostD, wait_for

BODY = "Subject: fill\r\n\r\n" + ("y" * 900 + "\r\n") * 4


def send(d, n):
    """Sends n messages on one session; returns (accepted queue ids, first refusal code)."""
    accepted = []
    with smtplib.SMTP(d.host, d.port, timeout=10) as client:
        for i in range(n):
            try:
                client.sendmail("a@example.com", [f"r{i}@example.net"], BODY)
                accepted.append(i)
            except (smtplib.SMTPDataError, smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPSenderRefused) as e:
                code = getattr(e, "smtp_code", None)
                if code is None:
                    code = list(e.recipients.values())[0][0]
                return accepted, code
    return accepted, None


@pytest.fixture
def small_fs():
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tempfile.mkdtemp(prefix="outpost-smallfs-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)
        os.rmdir(mnt)


def test_full_spool_disk_refuses_with_452_and_recovers(small_fs):
    work = tempfile.mkdtemp(prefix="outpostd-")
    d = OutpostD(workdir=work)
    d.config_text = d.config_text.replace(f"spool {d.spool}", f"spool {small_fs}/spool")
    with open(d.config_path, "w") as f:
        f.write(d.config_text)
    d.spool = f"{small_fs}/spool"
    # Leave about 2.5 MB free; the spool keeps 1 MB in reserve (spool-min-free 1M).
    filler = os.path.join(small_fs, "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * (5 << 20) + b"\0" * (512 << 10))
    try:
        d.start()
        accepted, code = send(d, 2000)
        assert code == 452, f"expected 452 once the disk filled, got {code}"
        assert 10 < len(accepted) < 2000
        # Space returns: acceptance resumes without a restart.
        os.unlink(filler)
        wait_for(lambda: send(d, 1)[1] is None, timeout=10, what="acceptance to resume")
        more, code2 = send(d, 20)
        assert code2 is None and len(more) == 20
        d.stop()
        messages, summary = d.list_spool()
        assert summary["messages"] == len(accepted) + 1 + 20
        assert summary["damaged"] == 0
        assert "4.3.1" in open(d.log).read() or "disk" in d.log_text().lower()
    finally:
        d.close()
        subprocess.run(["rm", "-rf", work])
