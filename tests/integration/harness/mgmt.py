"""Talks to outpostd's management HTTP API (docs/status-api.md) in integration tests.

outpostd writes "http HOST:PORT" to its port file when `http-mgmt-port` is set (port 0 binds an
ephemeral port). MgmtClient reads it and makes requests, optionally from another loopback source
address (127.0.0.x) to exercise http-access.
"""
import http.client
import json
import os
import re
import urllib.parse

from harness.outpostd import OutpostD

# Admin from 127.0.0.1, monitor from 127.0.0.3; 127.0.0.2 is not listed (403).
MGMT_CONFIG = ("http-mgmt-port 127.0.0.1:0\n"
               "http-access 127.0.0.1 admin\n"
               "http-access 127.0.0.3 monitor\n")


def http_address(daemon):
    """(host, port) of the management listener, from the daemon's port file."""
    with open(daemon.port_file) as f:
        for line in f:
            kind, _, address = line.strip().partition(" ")
            if kind == "http":
                host, port = address.rsplit(":", 1)
                return host.strip("[]"), int(port)
    raise RuntimeError("no 'http' line in the port file: is http-mgmt-port set?")


class MgmtClient:
    def __init__(self, daemon):
        self.host, self.port = http_address(daemon)
        self.url = f"http://{self.host}:{self.port}"

    def request(self, method, path, params=None, source="127.0.0.1"):
        """Returns (status, parsed JSON or text, content type)."""
        if params:
            path += "?" + urllib.parse.urlencode(params)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15,
                                          source_address=(source, 0))
        try:
            conn.request(method, path)
            res = conn.getresponse()
            body = res.read().decode()
            ctype = res.getheader("Content-Type", "")
        finally:
            conn.close()
        if ctype.startswith("application/json"):
            return res.status, json.loads(body), ctype
        return res.status, body, ctype

    def get(self, path, params=None, source="127.0.0.1"):
        status, body, _ = self.request("GET", path, params, source)
        return status, body

    def post(self, path, params=None, source="127.0.0.1"):
        status, body, _ = self.request("POST", path, params, source)
        return status, body


def start_outpostd(extra_config="", **kwargs):
    """An OutpostD with the management port on (admin from 127.0.0.1), started."""
    return OutpostD(extra_config=MGMT_CONFIG + extra_config, **kwargs).start()


def doc_schemas():
    """The JSON Schemas of docs/status-api.md, keyed by the name in '<!-- schema: NAME -->'."""
    source = os.environ.get("OUTPOST_SOURCE", os.path.join(os.path.dirname(__file__), "../../.."))
    with open(os.path.join(source, "docs", "status-api.md")) as f:
        text = f.read()
    schemas = {}
    for m in re.finditer(r"<!-- schema: (\S+) -->\s*```json\n(.*?)```", text, re.S):
        schemas[m.group(1)] = json.loads(m.group(2))
    return schemas


def doc_examples():
    """The example answers of docs/status-api.md, keyed by '<!-- example: NAME -->'."""
    source = os.environ.get("OUTPOST_SOURCE", os.path.join(os.path.dirname(__file__), "../../.."))
    with open(os.path.join(source, "docs", "status-api.md")) as f:
        text = f.read()
    return {m.group(1): json.loads(m.group(2)) for m in
            re.finditer(r"<!-- example: (\S+) -->\s*```json\n(.*?)```", text, re.S)}
