"""`outpostctl show settings DOMAIN[/VMTA]` (PowerMTA's `pmta show settings`) and
GET /settings.json against a live outpostd: the value in effect of each <domain> directive after
the merge of the sections inside the virtual MTA, the global ones and <domain *>, and the sections
it came from; a reload shows at once."""
import json
import subprocess

from harness.mgmt import MgmtClient, start_outpostd
from harness.outpostd import binary

CONFIG = """<virtual-mta v2>
  smtp-source-host 127.0.0.2 v2.app.test
  <domain gmail.com>
    max-smtp-out 3
    max-msg-rate 600/h
  </domain>
</virtual-mta>
<domain gmail.com>
  retry-after 5m,15m
  max-smtp-out 7
</domain>
"""


def ctl(url, *args):
    p = subprocess.run([binary("outpostctl"), "--url", url, *args], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def settings_table(url, queue):
    """`show settings` as scripts read it: `directive value` lines after the header."""
    rc, out, err = ctl(url, "show", "settings", queue)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == f"settings for {queue if '/' in queue else queue + '/{default}'}"
    table = {}
    for line in lines:
        parts = line.split(None, 1)
        if len(parts) == 2 and not line.startswith(" "):
            table[parts[0]] = parts[1].strip()
    return out, table


def test_show_settings_merges_sections():
    d = start_outpostd(extra_config=CONFIG)
    try:
        c = MgmtClient(d)
        out, through_v2 = settings_table(c.url, "gmail.com/v2")
        assert through_v2["max-smtp-out"] == "3"          # the section inside <virtual-mta v2>
        assert through_v2["max-msg-rate"] == "600/h"
        assert through_v2["retry-after"] == "5m,15m"      # the global <domain gmail.com>
        assert through_v2["bounce-after"] == "4d12h"      # built-in default
        assert through_v2["max-connect-rate"] == "unlimited"
        assert "from <domain gmail.com> in <virtual-mta v2>" in out
        _, default = settings_table(c.url, "gmail.com")
        assert default["max-smtp-out"] == "7" and default["max-msg-rate"] == "unlimited"
        _, other = settings_table(c.url, "yahoo.com/v2")
        assert other["max-smtp-out"] == "20" and other["retry-after"] == "1h"  # <domain *>

        rc, out, err = ctl(c.url, "--json", "show", "settings", "gmail.com/v2")
        assert rc == 0, err
        doc = json.loads(out)
        assert doc["queue"] == "gmail.com/v2" and doc["vmta"] == "v2"
        assert doc["settings"]["max-smtp-out"] == "3"
        assert [s["domain"] for s in doc["sections"]] == ["gmail.com", "gmail.com", "*"]
        assert doc["sections"][0]["virtual_mta"] == "v2" and doc["sections"][0]["line"] > 0

        rc, _, err = ctl(c.url, "show", "settings", "gmail.com/nosuch")
        assert rc == 1 and "no such virtual MTA: nosuch" in err
        assert ctl(c.url, "show", "settings")[0] == 2  # usage: DOMAIN[/VMTA] is needed
        status, body = c.get("/settings.json")
        assert status == 400 and "queue" in body["error"]

        # A reload shows at once.
        with open(d.config_path) as f:
            text = f.read()
        with open(d.config_path, "w") as f:
            f.write(text.replace("max-smtp-out 3", "max-smtp-out 4"))
        assert c.post("/api/reload")[0] == 200
        assert settings_table(c.url, "gmail.com/v2")[1]["max-smtp-out"] == "4"
    finally:
        d.close()
