"""End to end: the real monitoring stack of the demo (scripts/stack.py) on free loopback ports.

outpost-isp-sim (Gmail defers 30 % with 421 4.7.28) <- outpostd <- outpost-load; outpost_exporter
tails the accounting file and reads /status.json; Prometheus scrapes it every second and evaluates
the rules every second (time-scaled copy of alert-rules/outpost.rules.yml, windows and for: / 30);
Alertmanager runs alert-rules/alertmanager.yml's routes and inhibitions with every receiver
replaced by this test's webhook. The test asserts that:
* every PromQL expression of every dashboard panel (and every template variable's query) parses
  and returns data from the live Prometheus;
* the Gmail deferral alert fires and reaches the webhook through both the PagerDuty and the
  Slack route (it is critical), and its warning twin is inhibited;
* the alert resolves (a resolved notification arrives) once the simulator stops deferring.
Every wait is on a condition with a deadline.
"""
import glob
import json
import os
import re
import shutil
import sys

import pytest

SOURCE = os.environ.get("OUTPOST_SOURCE",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
sys.path.insert(0, os.path.join(SOURCE, "scripts"))
import stack as stackmod  # noqa: E402

# Values for Grafana's variables when a panel's query is run directly against Prometheus.
VARIABLES = {"instance": ".*", "provider": ".*", "vmta": ".*", "__rate_interval": "10s",
             "__range": "5m", "__interval": "1s"}


def substitute(expr):
    def value(m):
        name = m.group(1) or m.group(2)
        return VARIABLES[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def dashboard_queries():
    """[(dashboard file, panel title, PromQL)] for every target of every panel, plus the template
    variables' label_values() queries turned into series queries."""
    out = []
    for path in sorted(glob.glob(os.path.join(SOURCE, "dashboards", "*.json"))):
        name = os.path.basename(path)
        with open(path) as f:
            dash = json.load(f)
        panels = list(dash["panels"])
        while panels:
            p = panels.pop(0)
            panels.extend(p.get("panels", []))
            for t in p.get("targets", []):
                out.append((name, p["title"], substitute(t["expr"])))
        for v in dash["templating"]["list"]:
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", v["query"]["query"])
            assert m, f"{name}: variable {v['name']} is not a label_values() query"
            out.append((name, f"variable ${v['name']}",
                        f"count by ({m.group(2)}) ({substitute(m.group(1))})"))
    return out


def alert_matches(alert, **labels):
    return all(alert.get("labels", {}).get(k) == v for k, v in labels.items())


GMAIL_DEFERRAL = {"alertname": "OutpostProviderDeferralRatioHigh", "provider": "gmail"}


@pytest.fixture
def live_stack(tmp_path):
    for tool in ("prometheus", "prometheus-alertmanager"):
        assert shutil.which(tool), f"{tool} is not installed (bash scripts/install-deps.sh)"
    st = stackmod.Stack(workdir=str(tmp_path / "stack"), time_factor=30)
    try:
        st.start(load_rate=40)
    except Exception:
        st.cleanup()
        raise
    yield st
    st.cleanup()


def test_dashboards_alert_fires_reaches_webhook_and_resolves(live_stack):
    st = live_stack
    hook = st.webhook

    # 1. The Gmail deferral alert (critical: 30 % > 15 %) reaches both routes of a critical alert.
    def critical_firing(alerts):
        receivers = {r for r, status, a in alerts
                     if status == "firing" and alert_matches(a, severity="critical",
                                                             **GMAIL_DEFERRAL)}
        return receivers if {"pagerduty-critical", "slack-ops"} <= receivers else None
    try:
        hook.wait(critical_firing, 120, "the Gmail deferral alert at the webhook")
    except TimeoutError:
        _, data = st.query("outpost:provider_deferral_ratio:rate5m")
        raise AssertionError(f"no Gmail deferral notification; deferral ratios: {data}; "
                             f"notifications: {hook.alerts()}")

    # 2. Every dashboard query parses and returns data (status-derived series can appear a
    # scrape later than the accounting ones: wait for each, with one deadline for all).
    queries = dashboard_queries()
    assert len(queries) > 40
    pending = {q: None for q in queries}

    def all_have_data():
        for q in list(pending):
            status, data = st.query(q[2])
            assert status == "success", f"{q[0]} / {q[1]}: PromQL error {data} in {q[2]}"
            if data["result"]:
                del pending[q]
            else:
                pending[q] = "no data"
        return not pending
    try:
        stackmod.wait_for(all_have_data, 60, "every dashboard query to return data")
    except TimeoutError:
        missing = "\n".join(f"  {d} / {t}: {e}" for d, t, e in pending)
        raise AssertionError(f"{len(pending)} dashboard queries returned no data:\n{missing}")

    # 3. Inhibition: the Gmail warning (> 3 %) is firing in Prometheus but muted by the critical.
    def warning_in_prometheus():
        _, data = st.query('ALERTS{alertname="OutpostProviderDeferralRatioHigh",'
                           'provider="gmail",severity="warning",alertstate="firing"}')
        return data["result"]
    stackmod.wait_for(warning_in_prometheus, 60, "the Gmail warning to fire in Prometheus")
    assert not [a for r, status, a in hook.alerts()
                if status == "firing" and alert_matches(a, severity="warning", **GMAIL_DEFERRAL)]

    # 4. The simulator stops deferring: the alert resolves and the webhook is told.
    st.recover()

    def critical_resolved(alerts):
        return [a for r, status, a in alerts
                if r == "pagerduty-critical" and status == "resolved"
                and alert_matches(a, severity="critical", **GMAIL_DEFERRAL)]
    hook.wait(critical_resolved, 120, "the Gmail deferral alert to resolve at the webhook")
    status, data = st.query('outpost:provider_deferral_ratio:rate5m{provider="gmail"}')
    assert status == "success" and all(float(r["value"][1]) < 0.15 for r in data["result"])


def test_busy_fixed_port_is_a_clear_error(tmp_path):
    """The demo's fixed ports: one already taken stops the start before anything runs."""
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        st = stackmod.Stack(workdir=str(tmp_path), ports={"prometheus": port})
        with pytest.raises(stackmod.StackError, match=f"prometheus {port}"):
            st.start()
        assert not st.procs


def test_port_lost_to_another_program_is_chosen_again(tmp_path, monkeypatch):
    """A chosen port another program takes before Alertmanager binds it: Alertmanager exits with
    "address already in use" and the stack starts it again on another port (the race that once
    failed CI for Prometheus)."""
    import socket
    with socket.socket() as thief:
        thief.bind(("127.0.0.1", 0))
        thief.listen()
        stolen = thief.getsockname()[1]
        picks = [stolen]
        real = stackmod.free_port
        monkeypatch.setattr(stackmod, "free_port", lambda: picks.pop(0) if picks else real())
        st = stackmod.Stack(workdir=str(tmp_path))
        st.webhook = stackmod.WebhookReceiver()
        try:
            st.start_alertmanager()
            assert st.ports["alertmanager"] != stolen
            assert stackmod.http_get(f"{st.alertmanager_url}/-/ready")[0] == 200
            with open(tmp_path / "alertmanager.log") as f:
                assert f"127.0.0.1:{stolen}: bind: address already in use" in f.read()
        finally:
            st.stop()
