"""A real dnsmasq on loopback, and tiny scripted DNS peers, for the resolver's tests.

    with Dnsmasq(tmp_path, ["--mx-host=example.test,mx1.example.test,10"]) as dns:
        run outpost-resolve --server dns.server ...

Dnsmasq runs in the foreground on a free 127.0.0.1 port (bind port 0, close, reuse), answers only
from its own records (--no-resolv --no-hosts, --local=/test/ makes unknown *.test names NXDOMAIN)
with --local-ttl (default 600 s, so answers are cacheable). Readiness: we send it a DNS query
in a loop until it answers or a deadline passes (no timing sleeps).

ScriptedDns is a UDP socket on 127.0.0.1 that answers every query with one fixed behaviour:
"silent" (never answers: the client times out), "servfail", "refused", or "nxdomain-soa"
(NXDOMAIN with an SOA whose MINIMUM sets the negative TTL). It counts the queries it saw.
"""
import os
import select
import socket
import struct
import subprocess
import threading
import time

DNSMASQ = "/usr/sbin/dnsmasq"


def free_udp_port():
    """A 127.0.0.1 port free for UDP and, at the moment of asking, for TCP too (dnsmasq binds
    both). Another process can still take it before dnsmasq does: start() retries then."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def build_query(name, qtype, qid=0x1234):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name) + struct.pack(
        ">HH", qtype, 1)


def query(port, name, qtype=1, timeout=0.2):
    """Sends one query to 127.0.0.1:port; returns (rcode, ancount) or None if no answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(build_query(name, qtype), ("127.0.0.1", port))
        ready, _, _ = select.select([s], [], [], timeout)
        if not ready:
            return None
        data = s.recv(4096)
    flags, _, ancount = struct.unpack(">HHH", data[2:8])
    return flags & 0xF, ancount


class _PortTaken(Exception):
    """dnsmasq lost the race for its port to another process."""


class Dnsmasq:
    def __init__(self, workdir, records, local_ttl=600, extra_args=()):
        self.workdir = workdir
        self.records = list(records)
        self.local_ttl = local_ttl
        self.extra_args = list(extra_args)
        self.port = None
        self.proc = None

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def start(self, timeout=10.0, attempts=5):
        for attempt in range(attempts):
            try:
                return self._start_once(timeout)
            except _PortTaken:
                self.stop()
        raise RuntimeError(f"dnsmasq could not bind a free port in {attempts} attempts")

    def _start_once(self, timeout):
        self.port = free_udp_port()
        args = [DNSMASQ, "--no-daemon", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                f"--port={self.port}", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--conf-file=/dev/null", "--pid-file=", "--local=/test/",
                f"--local-ttl={self.local_ttl}", "--log-queries", "--log-facility=-"]
        if os.geteuid() == 0:
            args.append("--user=root")
        self.log_path = os.path.join(str(self.workdir), "dnsmasq.log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args + self.records + self.extra_args,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = open(self.log_path).read()
                if "Address already in use" in log:
                    raise _PortTaken(log)
                raise RuntimeError(f"dnsmasq exited: {log}")
            if query(self.port, "ready.test") is not None:
                return self
        self.stop()
        raise TimeoutError("dnsmasq did not answer in time")

    def queries_logged(self, name):
        """How many queries for `name` dnsmasq logged (to prove an answer came from cache)."""
        with open(self.log_path) as f:
            return sum(1 for line in f if "query[" in line and f" {name} from" in line)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class ScriptedDns:
    RCODES = {"servfail": 2, "refused": 5, "nxdomain-soa": 3}

    def __init__(self, behaviour, soa_minimum=42):
        assert behaviour in ("silent",) + tuple(self.RCODES)
        self.behaviour = behaviour
        self.soa_minimum = soa_minimum
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def _reply(self, request):
        qid, _, qdcount = struct.unpack(">HHH", request[:6])
        end = 12
        while request[end] != 0:
            end += 1 + request[end]
        question = request[12:end + 5]
        rcode = self.RCODES[self.behaviour]
        nscount = 1 if self.behaviour == "nxdomain-soa" else 0
        header = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, 0, nscount, 0)
        out = header + question
        if nscount:
            rdata = encode_name("ns.test") + encode_name("hostmaster.test") + struct.pack(
                ">IIIII", 1, 3600, 600, 86400, self.soa_minimum)
            # Owner: the zone "test" (a name, not a pointer: keeps the crafting obvious).
            out += encode_name("test") + struct.pack(">HHIH", 6, 1, 3600, len(rdata)) + rdata
        return out

    def _serve(self):
        while not self._stop:
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if not ready:
                continue
            try:
                request, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            self.queries += 1
            if self.behaviour != "silent":
                self.sock.sendto(self._reply(request), peer)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()
        self.sock.close()
