"""A throwaway Postfix instance as a real receiving MX for interoperability tests.

    with Postfix(domains=["pf.test"], main_cf="smtpd_discard_ehlo_keywords = 8bitmime") as pf:
        ... deliver to u@pf.test at 127.0.0.1:pf.port ...
        pf.messages()  # bytes of each message delivered, as Postfix's virtual(8) wrote them

Everything lives under a fresh directory in /tmp (mode 0755: Postfix's unprivileged processes must
reach it, which pytest's tmp_path does not allow), removed at stop: config_directory (main.cf, master.cf), queue_directory,
data_directory, the maillog file and the Maildir that virtual(8) delivers the test domains to (as
the `nobody` user); the system's Postfix is never touched. smtpd listens on 127.0.0.1:PORT. Postfix
cannot listen on port 0, so the port is one that was free a moment ago, drawn from outside the
kernel's ephemeral range (scripts/stack.py's free_port: no outgoing connection can take it). `tls=True` gives smtpd a self-signed certificate with
`smtpd_tls_security_level = may` and a Received: header that names the TLS protocol when TLS was
used. Needs root (Postfix's master); tests skip without it. Waits are on conditions with
deadlines.
"""
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness.outpostd import SOURCE, make_tls_cert, wait_for

sys.path.insert(0, os.path.join(SOURCE, "scripts"))
from stack import free_port  # noqa: E402


def require_postfix():
    if shutil.which("postfix") is None:
        pytest.skip("Postfix is not installed")
    if os.geteuid() != 0:
        pytest.skip("a Postfix instance needs root")


def _listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(4).startswith(b"220")
    except OSError:
        return False


class Postfix:
    def __init__(self, domains=("postfix.test",), main_cf="", tls=False):
        self.dir = Path(tempfile.mkdtemp(prefix="outpost-postfix-"))
        os.chmod(self.dir, 0o755)
        self.conf = self.dir / "etc"
        self.queue = self.dir / "queue"
        self.data = self.dir / "data"
        self.mail = self.dir / "mail"
        self.domains = list(domains)
        self.extra = main_cf
        self.tls = tls
        self.port = None

    def start(self):
        require_postfix()
        for d in (self.conf, self.queue, self.data, self.mail):
            d.mkdir(parents=True, exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)
        postfix_user = pwd.getpwnam("postfix")
        os.chown(self.data, postfix_user.pw_uid, postfix_user.pw_gid)
        self.port = free_port()
        # Debian's master.cf, with smtpd on our port and no service chrooted (a chroot would need
        # copies of /etc files inside the queue directory).
        lines = []
        for line in Path("/etc/postfix/master.cf").read_text().splitlines():
            fields = line.split()
            if line and not line[0].isspace() and not line.startswith("#") and len(fields) >= 8:
                if fields[0] == "smtp" and fields[1] == "inet":
                    fields[0] = f"127.0.0.1:{self.port}"
                fields[4] = "n"
                line = " ".join(fields[:8]) + (" " + " ".join(fields[8:]) if fields[8:] else "")
            lines.append(line)
        (self.conf / "master.cf").write_text("\n".join(lines) + "\n")
        tls_lines = ""
        if self.tls:
            cert, key = make_tls_cert(str(self.dir))
            tls_lines = (f"smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n"
                         f"smtpd_tls_security_level = may\nsmtpd_tls_received_header = yes\n"
                         f"smtpd_tls_loglevel = 1\n")
        (self.conf / "main.cf").write_text(f"""compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-peer.localhost
mydomain = localhost
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_relay_restrictions = permit_mynetworks, reject
maillog_file = {self.dir}/maillog
maillog_file_prefixes = {self.dir}
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = no
virtual_mailbox_domains = {", ".join(self.domains)}
virtual_mailbox_base = {self.mail}
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:{nobody.pw_uid}
virtual_gid_maps = static:{nobody.pw_gid}
virtual_minimum_uid = 1
{tls_lines}{self.extra}
""")
        result = subprocess.run(["script", "-qc", f"postfix -c {self.conf} start", "/dev/null"],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"postfix start failed: {result.stdout} {result.stderr}")
        wait_for(lambda: _listening(self.port), 30, f"Postfix smtpd on {self.port}")
        return self

    def stop(self):
        """Stops the master and waits for it to be gone, then removes the directory."""
        pid_file = self.queue / "pid" / "master.pid"
        pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        if (self.conf / "main.cf").exists():
            subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True,
                           timeout=60)
        if pid is not None:
            wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 30, "Postfix master to exit")
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def maillog(self):
        try:
            return (self.dir / "maillog").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def messages(self):
        """Bytes of each delivered message (virtual(8) writes LF line ends), oldest first."""
        new = self.mail / "box" / "new"
        if not new.is_dir():
            return []
        return [(new / n).read_bytes() for n in sorted(os.listdir(new))]

    def wait_messages(self, count, timeout=60):
        return wait_for(lambda: (lambda m: m if len(m) >= count else None)(self.messages()),
                        timeout, f"{count} message(s) delivered by Postfix")
