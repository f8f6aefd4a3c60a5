"""Three Outpost nodes on loopback (127.0.0.2-4) under one Prometheus (scripts/fleet.py).

Each node is a real outpostd + outpost_exporter pair with its own spool, accounting file and
outpost-load workload. Node 0 delivers to a simulated ISP whose Gmail defers 30 %; nodes 1 and 2
to one that accepts everything. One Prometheus scrapes the three exporters as one job and
evaluates alert-rules/outpost.rules.yml (time-scaled: windows and for: / 30). The test asserts:
* Prometheus has the three targets up, one `instance` each: the dashboards' instance variable
  (label_values(outpost_up, instance)) lists exactly the three nodes;
* every dashboard query that filters on $instance, run with one node's instance, returns that
  node's series and no other's;
* the Gmail deferral alert fires for node 0 and for no other node, while nodes 1 and 2 do have a
  Gmail deferral ratio (about 0) to judge by;
* the fleet view: the whole fleet's queue is one series equal to the sum of the nodes' queues,
  the worst node's Gmail deferral ratio is node 0's, and the fleet's own ratio (all nodes'
  deferrals / all attempts) lies strictly between 0 and that worst ratio.
Every wait is on a condition with a deadline.
"""
import glob
import json
import os
import re
import sys
import urllib.request

import pytest

SOURCE = os.environ.get("OUTPOST_SOURCE",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
sys.path.insert(0, os.path.join(SOURCE, "scripts"))
import fleet as fleetmod  # noqa: E402
from stack import wait_for  # noqa: E402


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    f = fleetmod.Fleet(workdir=str(tmp_path_factory.mktemp("fleet")))
    try:
        f.start()
    except Exception:
        f.cleanup()
        raise
    yield f
    f.cleanup()


def values_by_instance(fleet, expr):
    status, data = fleet.query(expr)
    assert status == "success", f"{expr}: {data}"
    return {r["metric"].get("instance"): float(r["value"][1]) for r in data["result"]}


def test_one_target_per_node_and_the_instance_variable_lists_them(fleet):
    want = {n.instance for n in fleet.nodes}
    assert len(want) == 3 and {i.split(":")[0] for i in want} == set(fleetmod.NODE_ADDRESSES)

    def all_up():
        with urllib.request.urlopen(f"{fleet.prometheus_url}/api/v1/targets", timeout=5) as r:
            active = json.load(r)["data"]["activeTargets"]
        up = {t["labels"]["instance"] for t in active
              if t["health"] == "up" and t["labels"]["job"] == "outpost"}
        return up == want and len(active) == 3
    wait_for(all_up, 60, "the three exporters up in Prometheus")
    # The dashboards' variable query, as Grafana runs it (label_values(outpost_up, instance)).
    wait_for(lambda: set(values_by_instance(fleet, "count by (instance) (outpost_up)")) == want,
             30, "outpost_up from every node")
    assert values_by_instance(fleet, "outpost_up") == {i: 1.0 for i in want}


def dashboard_targets():
    """[(dashboard, panel title, expr template)] for every target of every panel."""
    out = []
    for path in sorted(glob.glob(os.path.join(SOURCE, "dashboards", "*.json"))):
        with open(path) as f:
            dash = json.load(f)
        panels = list(dash["panels"])
        while panels:
            p = panels.pop(0)
            panels.extend(p.get("panels", []))
            out.extend((os.path.basename(path), p["title"], t["expr"])
                       for t in p.get("targets", []))
    return out


def substitute(expr, instance):
    # As Grafana writes one selected value into a =~ selector: regex-escaped, then escaped
    # again for PromQL's double-quoted string.
    values = {"instance": re.escape(instance).replace("\\", "\\\\"), "provider": ".*",
              "vmta": ".*",
              "__rate_interval": "10s", "__range": "5m", "__interval": "1s"}
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values[m.group(1) or m.group(2)], expr)


def test_dashboard_queries_filtered_to_one_node_show_only_that_node(fleet):
    node = fleet.nodes[1]
    wait_for(lambda: values_by_instance(fleet, 'outpost:provider_attempts:rate5m'
                                                f'{{instance="{node.instance}"}}'),
             60, "node 1's attempts")
    filtered = [t for t in dashboard_targets() if "$instance" in t[2]]
    assert len(filtered) > 30
    with_data = 0
    for dash, title, template in filtered:
        expr = substitute(template, node.instance)
        status, data = fleet.query(expr)
        assert status == "success", f"{dash} / {title}: {data} in {expr}"
        instances = {r["metric"]["instance"] for r in data["result"] if "instance" in r["metric"]}
        assert instances <= {node.instance}, f"{dash} / {title}: {instances} in {expr}"
        with_data += bool(data["result"])
    # Most panels have data for one node (not every one: e.g. no bounces at node 1).
    assert with_data > len(filtered) // 2


def test_deferral_alert_fires_for_the_deferring_node_only(fleet):
    bad, good = fleet.nodes[0], fleet.nodes[1:]
    alert = ('ALERTS{alertname="OutpostProviderDeferralRatioHigh",provider="gmail",'
             'severity="critical",alertstate="firing"}')
    wait_for(lambda: values_by_instance(fleet, alert), 120, "the Gmail deferral alert")
    # The healthy nodes send to Gmail too, and their ratio is 0: the alert's silence about them
    # is a judgement, not missing data.
    ratios = wait_for(
        lambda: (lambda r: r if {n.instance for n in fleet.nodes} <= set(r) else None)(
            values_by_instance(fleet, 'outpost:provider_deferral_ratio:rate5m{provider="gmail"}')),
        60, "a Gmail deferral ratio for every node")
    assert ratios[bad.instance] > 0.15
    for n in good:
        # 0 unless a delivery timed out on a loaded machine; either way under every threshold.
        assert ratios[n.instance] < 0.03
    firing = values_by_instance(fleet, alert)
    assert set(firing) == {bad.instance}
    pending_or_firing = values_by_instance(
        fleet, 'ALERTS{alertname="OutpostProviderDeferralRatioHigh"}')
    assert set(pending_or_firing) == {bad.instance}


def test_fleet_view_total_queue_and_worst_provider_deferral(fleet):
    nodes = {n.instance for n in fleet.nodes}
    wait_for(lambda: values_by_instance(fleet, "outpost:fleet_nodes_up:sum") == {None: 3.0}, 60,
             "the fleet's node count")

    # Total queue: one series (no instance label) equal to the sum of every node's queue. The
    # rule is evaluated between scrapes, so poll until a query sees both from the same scrape.
    def total_is_the_sum():
        status, data = fleet.query("outpost:fleet_queue_recipients:sum")
        assert status == "success"
        if len(data["result"]) != 1:
            return None
        assert "instance" not in data["result"][0]["metric"]
        total = float(data["result"][0]["value"][1])
        per_node = values_by_instance(fleet, "sum by (instance) (outpost_queue_recipients)")
        return total > 0 and set(per_node) == nodes and total == sum(per_node.values())
    wait_for(total_is_the_sum, 60, "the fleet's queue to equal the sum of the nodes' queues")

    # Worst provider deferral over all nodes: node 0's Gmail ratio. The fleet's own ratio is
    # diluted by the healthy nodes' attempts: strictly between 0 and the worst.
    def worst_and_fleet():
        worst = values_by_instance(fleet, 'outpost:fleet_provider_deferral_ratio:max'
                                          '{provider="gmail"}')
        overall = values_by_instance(fleet, 'outpost:fleet_provider_deferral_ratio:rate5m'
                                            '{provider="gmail"}')
        per_node = values_by_instance(fleet, 'outpost:provider_deferral_ratio:rate5m'
                                             '{provider="gmail"}')
        if set(worst) != {None} or set(overall) != {None} or set(per_node) != nodes:
            return None
        if worst[None] != max(per_node.values()):
            return None  # evaluated a moment apart; wait for a consistent view
        return worst[None], overall[None], per_node
    worst, overall, per_node = wait_for(worst_and_fleet, 60, "the fleet deferral ratios")
    assert worst == per_node[fleet.nodes[0].instance] > 0.15
    assert 0 < overall < worst
