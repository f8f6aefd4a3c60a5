"""Static and tool checks of the monitoring files: alert rules (promtool), their unit tests,
the runbook, Alertmanager routing (amtool) and inhibition (a real Alertmanager on loopback),
the dashboards' JSON structure and provisioning, the compose file (docker-compose config),
the Prometheus configs and the systemd units.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request

import pytest
import yaml

SOURCE = os.environ.get("OUTPOST_SOURCE",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
sys.path.insert(0, os.path.join(SOURCE, "scripts"))
sys.path.insert(0, os.path.join(SOURCE, "dashboards"))
import stack as stackmod  # noqa: E402

RULES = os.path.join(SOURCE, "alert-rules", "outpost.rules.yml")
RULE_TESTS = os.path.join(SOURCE, "alert-rules", "outpost.rules.test.yml")
ALERTMANAGER = os.path.join(SOURCE, "alert-rules", "alertmanager.yml")
RUNBOOK = os.path.join(SOURCE, "docs", "runbook.md")


def run(args, **kw):
    tool = shutil.which(args[0])
    assert tool, f"{args[0]} is not installed (bash scripts/install-deps.sh)"
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def alerting_rules():
    with open(RULES) as f:
        doc = yaml.safe_load(f)
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def alert_names():
    return sorted({r["alert"] for r in alerting_rules()})


# ---- Prometheus rules -----------------------------------------------------------------------

def test_promtool_check_rules():
    r = run(["promtool", "check", "rules", RULES])
    assert r.returncode == 0, r.stdout + r.stderr


def test_promtool_unit_tests_pass():
    r = run(["promtool", "test", "rules", os.path.basename(RULE_TESTS)],
            cwd=os.path.dirname(RULE_TESTS))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_every_alert_has_a_firing_and_a_quiet_unit_test():
    with open(RULE_TESTS) as f:
        tests = yaml.safe_load(f)["tests"]
    fires, quiet = set(), set()
    for group in tests:
        for t in group.get("alert_rule_test", []):
            (fires if t["exp_alerts"] else quiet).add(t["alertname"])
    for name in alert_names():
        assert name in fires, f"{name}: no promtool case where it fires"
        assert name in quiet, f"{name}: no promtool case where it must not fire"


REQUIRED_ALERTS = [
    # (label, alert name, a threshold its expression must mention)
    ("queue depth > 500,000", "OutpostQueueDepthHigh", "500000"),
    ("provider deferral > 5 % / 15 %, Gmail > 3 %", "OutpostProviderDeferralRatioHigh", "0.15"),
    ("hard bounce ratio > 1 %", "OutpostHardBounceRatioHigh", "0.01"),
    ("provider bounce ratio > 5 % over 10 minutes", "OutpostProviderBounceRatioHigh", "0.05"),
    ("swap > 100 MB", "OutpostSwapInUse", "100 * 1024 * 1024"),
    ("RSS > 12 GB", "OutpostMemoryHigh", "12 * 1024 * 1024 * 1024"),
    ("file descriptors > 80 %", "OutpostFileDescriptorsNearLimit", "0.8"),
    ("spool disk > 85 %", "OutpostSpoolDiskFilling", "0.85"),
    ("spool over 4x its live bytes on disk", "OutpostSpoolNotCompacting",
     "outpost:spool_space_amplification > 4"),
    ("queue in backoff over an hour", "OutpostQueueInBackoffTooLong", "3600"),
    ("memory growing while the queue does not", "OutpostMemoryLeakSuspected", "deriv"),
    ("outpostd down / status unreachable", "OutpostDown", "outpost_up"),
    ("accounting stale while mail is queued", "OutpostAccountingStale",
     "outpost_acct_last_record_timestamp_seconds"),
    ("exporter down", "OutpostExporterDown", "up{"),
]


@pytest.mark.parametrize("label,name,needle", REQUIRED_ALERTS, ids=[c[0] for c in REQUIRED_ALERTS])
def test_required_alert_exists_with_its_threshold(label, name, needle):
    exprs = [r["expr"] for r in alerting_rules() if r["alert"] == name]
    assert exprs, f"{label}: no alert {name}"
    assert any(needle in e for e in exprs), f"{label}: {name} does not use {needle}"


def test_deferral_alert_has_the_three_thresholds_with_severities():
    got = {(r["labels"]["severity"], r["labels"]["threshold"]) for r in alerting_rules()
           if r["alert"] == "OutpostProviderDeferralRatioHigh"}
    assert got == {("warning", "5%"), ("warning", "3%"), ("critical", "15%")}


@pytest.mark.parametrize("name", alert_names())
def test_alert_has_severity_summary_value_and_runbook_section(name):
    with open(RUNBOOK) as f:
        runbook = f.read()
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", runbook, re.M)}
    for rule in [r for r in alerting_rules() if r["alert"] == name]:
        assert rule["labels"]["severity"] in ("warning", "critical")
        ann = rule["annotations"]
        assert ann["summary"]
        assert "$value" in ann["description"], f"{name}: description lacks the current value"
        m = re.fullmatch(r"docs/runbook\.md#([a-z0-9-]+)", ann["runbook"])
        assert m and m.group(1) in anchors, f"{name}: runbook link {ann['runbook']} has no section"
    section = runbook.split(f"## {name}\n", 1)
    assert len(section) == 2, f"docs/runbook.md has no '## {name}' section"
    body = section[1].split("\n## ", 1)[0]
    assert "Check" in body and "Do" in body, f"{name}: runbook section lacks Check/Do"


def test_time_scaled_rules_for_the_demo_are_valid(tmp_path):
    with open(RULES) as f:
        scaled = stackmod.time_scaled_rules(f.read(), 30)
    assert "[10s]" in scaled and "[5m]" not in scaled and "for: 20s" in scaled
    path = tmp_path / "scaled.rules.yml"
    path.write_text(scaled)
    r = run(["promtool", "check", "rules", str(path)])
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("config", ["deploy/prometheus.yml", "deploy/compose/prometheus.yml"])
def test_prometheus_configs_are_valid(config, tmp_path):
    with open(os.path.join(SOURCE, config)) as f:
        doc = yaml.safe_load(f)
    assert [j["job_name"] for j in doc["scrape_configs"]] == ["outpost"]
    shutil.copy(RULES, tmp_path / "outpost.rules.yml")
    doc["rule_files"] = [str(tmp_path / "outpost.rules.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(doc))
    r = run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")])
    assert r.returncode == 0, r.stdout + r.stderr


# ---- Alertmanager ---------------------------------------------------------------------------

@pytest.mark.parametrize("config", ["alert-rules/alertmanager.yml",
                                    "deploy/compose/alertmanager.yml"])
def test_amtool_check_config(config):
    r = run(["amtool", "check-config", os.path.join(SOURCE, config)])
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_secrets_in_alertmanager_config():
    with open(ALERTMANAGER) as f:
        text = f.read()
    doc = yaml.safe_load(text)
    for r in doc["receivers"]:
        for pd in r.get("pagerduty_configs", []):
            assert "routing_key_file" in pd and "routing_key" not in pd and "service_key" not in pd
        for sl in r.get("slack_configs", []):
            assert "api_url_file" in sl and "api_url" not in sl
    assert "hooks.slack.com" not in text
    assert doc["route"]["group_by"] == ["alertname", "provider"]


ROUTES = [
    # (label, labels, receivers)
    ("critical pages and goes to Slack", ["severity=critical", "alertname=OutpostDown"],
     "pagerduty-critical,slack-ops"),
    ("critical provider alert", ["severity=critical", "alertname=OutpostProviderDeferralRatioHigh",
                                 "provider=gmail"], "pagerduty-critical,slack-ops"),
    ("critical provider alert from mta1 also acts on mta1's outpostd",
     ["severity=critical", "alertname=OutpostProviderDeferralRatioHigh", "provider=gmail",
      "instance=mta1:9469"], "outpost-actions-mta1,pagerduty-critical,slack-ops"),
    ("a warning does not act", ["severity=warning", "alertname=OutpostProviderDeferralRatioHigh",
                                "provider=gmail", "instance=mta1:9469"], "slack-ops"),
    ("warning goes to Slack only", ["severity=warning", "alertname=OutpostMemoryHigh"],
     "slack-ops"),
    ("no severity goes nowhere", ["alertname=Watchdog"], "default-null"),
    ("info goes nowhere", ["severity=info", "alertname=Something"], "default-null"),
]


@pytest.mark.parametrize("label,labels,receivers", ROUTES, ids=[c[0] for c in ROUTES])
def test_amtool_routes(label, labels, receivers):
    r = run(["amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}",
             f"--verify.receivers={receivers}"] + labels)
    assert r.returncode == 0, f"{label}: {r.stdout}{r.stderr}"
    assert r.stdout.strip() == receivers


@pytest.mark.parametrize("name", alert_names())
def test_every_alert_routes_by_its_severity(name):
    for rule in [r for r in alerting_rules() if r["alert"] == name]:
        sev = rule["labels"]["severity"]
        want = "pagerduty-critical,slack-ops" if sev == "critical" else "slack-ops"
        r = run(["amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}",
                 f"alertname={name}", f"severity={sev}"] +
                [f"{k}={v}" for k, v in rule["labels"].items() if k != "severity"])
        assert r.stdout.strip() == want, f"{name} ({sev}) routed to {r.stdout.strip()}"


def test_inhibition_in_a_real_alertmanager(tmp_path):
    """critical mutes the same warning; OutpostDown mutes what derives from outpostd."""
    st = stackmod.Stack(workdir=str(tmp_path), time_factor=30)
    st.webhook = stackmod.WebhookReceiver()
    try:
        st.start_alertmanager()
        common = {"job": "outpost", "instance": "mta1:9469"}
        alerts = [
            dict(common, alertname="OutpostProviderDeferralRatioHigh", provider="gmail",
                 severity="critical", threshold="15%", component="deliverability"),
            dict(common, alertname="OutpostProviderDeferralRatioHigh", provider="gmail",
                 severity="warning", threshold="3%", component="deliverability"),
            dict(common, alertname="OutpostProviderDeferralRatioHigh", provider="yahoo",
                 severity="warning", threshold="5%", component="deliverability"),
            dict(common, alertname="OutpostDown", severity="critical", component="outpostd"),
            dict(common, alertname="OutpostAccountingStale", severity="warning",
                 component="accounting"),
            dict(common, alertname="OutpostNotReady", severity="critical", component="outpostd"),
            dict(job="outpost", instance="mta2:9469", alertname="OutpostNotReady",
                 severity="critical", component="outpostd"),
        ]
        body = json.dumps([{"labels": a} for a in alerts]).encode()
        req = urllib.request.Request(st.alertmanager_url + "/api/v2/alerts", data=body,
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()

        def states():
            with urllib.request.urlopen(st.alertmanager_url + "/api/v2/alerts", timeout=10) as r:
                got = json.load(r)
            if len(got) < len(alerts):
                return None
            return {(a["labels"]["alertname"], a["labels"].get("provider"),
                     a["labels"]["severity"], a["labels"]["instance"]):
                    bool(a["status"]["inhibitedBy"]) for a in got}
        # Inhibition is computed when alerts are listed; wait until all are there.
        got = stackmod.wait_for(states, 30, "the alerts in Alertmanager")
        expected = {
            ("OutpostProviderDeferralRatioHigh", "gmail", "critical", "mta1:9469"): False,
            ("OutpostProviderDeferralRatioHigh", "gmail", "warning", "mta1:9469"): True,
            ("OutpostProviderDeferralRatioHigh", "yahoo", "warning", "mta1:9469"): False,
            ("OutpostDown", None, "critical", "mta1:9469"): False,
            ("OutpostAccountingStale", None, "warning", "mta1:9469"): True,
            ("OutpostNotReady", None, "critical", "mta1:9469"): True,
            ("OutpostNotReady", None, "critical", "mta2:9469"): False,
        }
        assert got == expected
    finally:
        st.stop()


# ---- dashboards -----------------------------------------------------------------------------

DASHBOARD_FILES = sorted(glob.glob(os.path.join(SOURCE, "dashboards", "*.json")))


def test_dashboards_are_generated_from_generate_py():
    import generate
    rendered = generate.render()
    assert sorted(rendered) == sorted(os.path.basename(p) for p in DASHBOARD_FILES)
    for name, text in rendered.items():
        with open(os.path.join(SOURCE, "dashboards", name)) as f:
            assert f.read() == text, f"dashboards/{name} is stale: python3 dashboards/generate.py"


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=[os.path.basename(p) for p in DASHBOARD_FILES])
def test_dashboard_structure(path):
    with open(path) as f:
        text = f.read()
    assert "${DS_" not in text, "file provisioning cannot fill ${DS_...} placeholders"
    d = json.loads(text)
    assert d["uid"] and d["title"].startswith("Outpost / ") and "outpost" in d["tags"]
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert "instance" in variables
    if "capacity" not in path:
        assert {"instance", "provider", "vmta"} <= set(variables)
    for v in variables.values():
        assert v["datasource"]["uid"] == "outpost-prometheus" and v["includeAll"]
    ids = set()
    for p in d["panels"]:
        assert p["id"] not in ids
        ids.add(p["id"])
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "outpost-prometheus"}
        assert p["targets"] and p["description"]
        for t in p["targets"]:
            assert t["expr"].strip() and t["datasource"]["uid"] == "outpost-prometheus"
            for name in re.findall(r"\$(\w+)", t["expr"]):
                assert name in variables or name.startswith("__"), f"unknown ${name}"


def test_required_panels_exist():
    titles = {}
    for path in DASHBOARD_FILES:
        with open(path) as f:
            d = json.load(f)
        titles[d["uid"]] = " | ".join(p["title"] for p in d["panels"]).lower()
    wanted = {
        "outpost-overview": ["outcomes per minute", "queue depth", "connections",
                             "delivery delay percentiles", "alerts firing"],
        "outpost-isp": ["deferral ratio by provider", "bounce ratio by provider",
                        "top deferral reasons", "bounces by category", "in backoff"],
        "outpost-vmtas": ["by virtual mta", "by source ip"],
        "outpost-capacity": ["resident memory and swap", "file descriptors", "spool",
                             "queue depth vs memory", "dns cache", "exporter"],
    }
    for uid, needles in wanted.items():
        for n in needles:
            assert n in titles[uid], f"{uid}: no panel about {n!r}"


def test_capacity_spool_panel_shows_live_and_reclaimed_bytes():
    with open(os.path.join(SOURCE, "dashboards", "outpost-capacity.json")) as f:
        panels = {p["title"]: p for p in json.load(f)["panels"]}
    spool = panels["Spool contents"]
    exprs = {t["refId"]: t["expr"] for t in spool["targets"]}
    # Bytes on disk, live bytes and reclaimed bytes share the left (bytes) axis; the messages
    # are the one target on the right axis.
    assert exprs["A"].startswith("outpost_spool_bytes{")
    assert exprs["B"].startswith("outpost_spool_entries{")
    assert any(e.startswith("outpost_spool_live_bytes{") for e in exprs.values())
    assert any("outpost_spool_compaction_reclaimed_bytes_total{" in e for e in exprs.values())
    config = spool["fieldConfig"]
    assert config["defaults"]["unit"] == "bytes"
    right = [o for o in config["overrides"]
             if {"id": "custom.axisPlacement", "value": "right"} in o["properties"]]
    assert [o["matcher"]["options"] for o in right] == ["B"]


def test_grafana_provisioning_points_at_the_fixed_uid():
    with open(os.path.join(SOURCE, "dashboards/provisioning/datasources/prometheus.yml")) as f:
        ds = yaml.safe_load(f)["datasources"]
    assert [d["uid"] for d in ds] == ["outpost-prometheus"]
    with open(os.path.join(SOURCE, "dashboards/provisioning/dashboards/outpost.yml")) as f:
        prov = yaml.safe_load(f)["providers"]
    assert prov[0]["type"] == "file" and prov[0]["options"]["path"]


# ---- compose, deploy ------------------------------------------------------------------------

def test_docker_compose_config_validates():
    r = run(["docker-compose", "-f", os.path.join(SOURCE, "docker-compose.yml"), "config"],
            cwd=SOURCE)
    assert r.returncode == 0, r.stdout + r.stderr
    services = yaml.safe_load(r.stdout)["services"]
    assert set(services) == {"outpostd", "outpost_exporter", "isp-sim", "load", "prometheus",
                             "alertmanager", "grafana"}
    # The sidecar shares the accounting volume (read-only). docker-compose 1.29 prints the short
    # syntax "source:target[:mode]"; newer versions the long one.
    def volumes(service):
        out = []
        for v in services[service]["volumes"]:
            if isinstance(v, str):
                parts = v.split(":")
                out.append((parts[0], parts[1], len(parts) > 2 and parts[2] == "ro"))
            else:
                out.append((v.get("source"), v.get("target"), bool(v.get("read_only"))))
        return out
    assert ("acct", "/var/log/outpost", False) in volumes("outpostd")
    assert ("acct", "/var/log/outpost", True) in volumes("outpost_exporter")
    for name in ("outpostd", "outpost_exporter", "isp-sim", "load"):
        assert services[name]["image"] == "outpost:local"
    assert services["outpostd"]["build"]["dockerfile"] == "deploy/Dockerfile"


def test_compose_configs_are_valid_for_their_programs(tmp_path):
    bin_dir = os.environ.get("OUTPOST_BIN", os.path.join(SOURCE, "build/bin"))
    conf = tmp_path / "outpost.conf"
    shutil.copy(os.path.join(SOURCE, "deploy/compose/outpost.conf"), conf)
    r = subprocess.run([os.path.join(bin_dir, "outpostd"), "--check-config", str(conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dockerfile_builds_from_debian_packages_only():
    with open(os.path.join(SOURCE, "deploy/Dockerfile")) as f:
        text = f.read()
    assert re.findall(r"^FROM (\S+)", text, re.M)[0].startswith("debian:bookworm")
    assert "curl" not in text and "wget" not in text and "pip " not in text


@pytest.mark.parametrize("unit", ["outpostd.service", "outpost_exporter.service"])
def test_systemd_units(unit):
    with open(os.path.join(SOURCE, "deploy", unit)) as f:
        text = f.read()
    options = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
    assert int(options["LimitNOFILE"]) >= 65535
    if unit == "outpostd.service":
        assert "ExecReload=/bin/kill -HUP $MAINPID" in text  # outpostd reloads on SIGHUP
    else:
        assert "HUP" not in options.get("ExecReload", "")  # the exporter would die of SIGHUP
    for hardening in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp",
                      "RestrictAddressFamilies", "SystemCallFilter"):
        assert hardening in options, f"{unit}: no {hardening}"
    assert options["User"] != "root"
    if shutil.which("systemd-analyze"):
        r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            os.path.join(SOURCE, "deploy", unit)],
                           capture_output=True, text=True, timeout=60)
        assert "Unknown key" not in r.stderr and "Invalid" not in r.stderr, r.stderr
