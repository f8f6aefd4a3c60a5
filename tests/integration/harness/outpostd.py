"""Starts a real outpostd on port 0 in a temp dir and gives tests its address, files and logs.

Every wait here is on a condition with a deadline (a file appearing, a process exiting), never a
fixed sleep.
"""
import json
import os
import pwd
import select
import signal
import socket
import subprocess
import tempfile
import time

BIN = os.environ.get("OUTPOST_BIN", os.path.join(os.path.dirname(__file__), "../../../build/bin"))
SOURCE = os.environ.get("OUTPOST_SOURCE", os.path.join(os.path.dirname(__file__), "../../.."))


def binary(name):
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not built")
    return path


def wait_for(predicate, timeout=20.0, what="condition"):
    """Polls `predicate` until it returns a truthy value or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        # Block on nothing for a short interval: select() with no fds is a bounded wait for the
        # next poll, not a sleep that tests rely on for timing.
        select.select([], [], [], 0.02)


def daemon_user():
    """The user outpostd started as root becomes after start-up (run-as-root no, its default):
    `outpost`, else `nobody` (mta/outpostd/privileges.hpp)."""
    for name in ("outpost", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    return None


def give_to_daemon_user(directory):
    """Started as root, outpostd gives up root once its ports are bound; like an installation's
    /var/spool/outpost, its work directory must then belong to the user it becomes, and the
    directories above it must let that user through (pytest's temp root is mode 0700: it gets
    search permission for others, as /var/spool has). Nothing to do when the tests do not run as
    root."""
    user = daemon_user()
    if os.geteuid() != 0 or user is None:
        return
    for top, dirs, files in os.walk(directory):
        for name in [top] + [os.path.join(top, n) for n in dirs + files]:
            os.lchown(name, user.pw_uid, user.pw_gid)
    parent = os.path.dirname(os.path.abspath(directory))
    while parent != "/":
        mode = os.stat(parent).st_mode
        if not mode & 0o001:
            os.chmod(parent, (mode & 0o7777) | 0o001)
        parent = os.path.dirname(parent)


def make_tls_cert(directory):
    """A self-signed certificate and key for localhost; returns (cert, key) paths."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    return cert, key


DEFAULT_SOURCES = """
<source 127.0.0.1>
  always-allow-relaying yes
  process-x-virtual-mta yes
  process-x-job yes
</source>
<source 0/0>
  always-allow-relaying no
</source>
"""


def refusing_port():
    """A loopback TCP port that refuses connections for as long as the returned socket lives (it is
    bound but never listens, so nothing else can take the port meanwhile)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


# The outpostd instances started during the current test, with the tail of each one's log as it
# was when the test closed it: conftest.py prints them when the test fails, so a CI failure shows
# what the daemon said (pytest alone prints only the test's side).
STARTED = []


class OutpostD:
    """One outpostd process with its own temp dir, config, spool, log and accounting file.

    Tests talk only to loopback: unless the test's own config says otherwise, DNS goes to a
    loopback port where nothing answers, and every domain is routed to a loopback port that
    refuses connections, so accepted mail stays queued (deferred) in the spool.
    """

    def __init__(self, extra_config="", sources=DEFAULT_SOURCES, workdir=None, tls=False):
        self.owned_dir = None
        self.refuser, refuse_port = refusing_port()
        if workdir is None:
            self.owned_dir = tempfile.TemporaryDirectory(prefix="outpostd-")
            workdir = self.owned_dir.name
        self.dir = workdir
        self.spool = os.path.join(workdir, "spool")
        self.acct = os.path.join(workdir, "acct.csv")
        self.log = os.path.join(workdir, "outpostd.log")
        self.port_file = os.path.join(workdir, "ports")
        self.config_path = os.path.join(workdir, "outpost.conf")
        self.proc = None
        tls_lines = ""
        if tls:
            cert, key = make_tls_cert(workdir)
            tls_lines = f"smtp-server-tls-certificate {cert}\nsmtp-server-tls-private-key {key}\n"
        self.config_text = (
            f"smtp-listener 127.0.0.1:0\n"
            f"spool {self.spool}\n"
            f"host-name outpost.test\n"
            f"log-file {self.log}\n"
            f"spool-min-free 1M\n"
            f"{tls_lines}"
            f"<acct-file {self.acct}>\n  records d,b,t,tq,r\n</acct-file>\n"
            f"{sources}\n{extra_config}\n")
        if "dns-server" not in extra_config:
            self.config_text += f"dns-server 127.0.0.1:{refuse_port}\n"
        if "<domain *>" not in extra_config:
            self.config_text += (f"<domain *>\n  route [127.0.0.1]:{refuse_port}\n"
                                 f"  retry-after 1h\n</domain>\n")
        with open(self.config_path, "w") as f:
            f.write(self.config_text)

    def start(self, timeout=20.0):
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        give_to_daemon_user(self.dir)
        if self not in STARTED:
            STARTED.append(self)
        self.log_tail = None
        self.proc = subprocess.Popen([binary("outpostd"), "--config", self.config_path,
                                      "--port-file", self.port_file],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"outpostd exited with {self.proc.returncode}: "
                                   f"{self.proc.stderr.read().decode()} {self.log_text()}")
            return os.path.exists(self.port_file)

        wait_for(ready, timeout, "outpostd port file")
        with open(self.port_file) as f:
            first = f.readline().split()[1]
        host, port = first.rsplit(":", 1)
        self.host, self.port = host, int(port)
        return self

    def stop(self, timeout=20.0):
        """Graceful stop (SIGTERM): accounting is flushed."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        return self.proc.returncode if self.proc else None

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def close(self):
        self.kill9()
        self.log_tail = self.log_text()[-6000:]
        if self.proc:
            self.proc.stdout.close()
            self.proc.stderr.close()
        self.refuser.close()
        if self.owned_dir:
            self.owned_dir.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def list_spool(self):
        """Runs `outpostd --list-spool` (daemon must be stopped); returns (messages, summary)."""
        out = subprocess.run([binary("outpostd"), "--config", self.config_path, "--list-spool"],
                             check=True, capture_output=True, text=True, timeout=120).stdout
        messages, summary = [], None
        for line in out.splitlines():
            obj = json.loads(line)
            if "summary" in obj:
                summary = obj["summary"]
            else:
                messages.append(obj)
        return messages, summary

    def acct_records(self):
        """Parses the accounting file into dicts keyed by header names."""
        import csv
        with open(self.acct, newline="") as f:
            return list(csv.DictReader(f))

    def connect(self, source="127.0.0.1", timeout=10.0):
        """A raw socket to the listener, bound to `source` (any 127.0.0.x works on Linux)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.bind((source, 0))
        s.connect((self.host, self.port))
        return s


class SmtpWire:
    """A raw SMTP conversation over a socket, for protocol-level tests (pipelining, smuggling)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """Reads one (possibly multi-line) reply; returns (code, text-lines)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"closed; partial reply {lines!r} {self.buf!r}")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            text = line.decode(errors="replace")
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                return int(text[:3]), lines

    def command(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self):
        """True when the server has closed the connection (EOF after any buffered bytes)."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return False
