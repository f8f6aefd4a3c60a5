#!/usr/bin/env python3
"""Writes Outpost's Grafana dashboards (dashboards/*.json) from the panel lists below.

The JSON files are committed (Grafana's file provisioning reads them as they are); this script is
their source. After editing it run `python3 dashboards/generate.py`;
tests/integration/test_alert_rules.py fails when the JSON files and this script disagree, and
tests/integration/test_stack_e2e.py runs every panel's PromQL against a live Prometheus.

Conventions:
* One fixed datasource uid, `outpost-prometheus`, provisioned by
  dashboards/provisioning/datasources/prometheus.yml (file provisioning cannot fill `${DS_...}`
  placeholders, so none is used).
* Template variables `instance`, `provider`, `vmta` (multi-value, "All" = `.*`); every selector
  that has the label filters on it with `=~"$var"`.
* Rates use `$__rate_interval`; tables of "what happened in the shown time range" use `$__range`.
* Metric names: docs/metrics.md and the exporter's status-derived metrics; ratios come from the
  recording rules in alert-rules/outpost.rules.yml where the alerts use the same figure, so the
  dashboard shows exactly what the alert compares against its threshold.
"""
import json
import os

DS = {"type": "prometheus", "uid": "outpost-prometheus"}
I = 'instance=~"$instance"'
IP = 'instance=~"$instance",provider=~"$provider"'
IPV = 'instance=~"$instance",provider=~"$provider",vmta=~"$vmta"'
ATTEMPTS = 'type=~"delivered|deferred|bounced"'

# Grafana threshold steps for the deliverability ratios: Gmail's 3 %, the 5 % warning, 15 % critical.
RATIO_STEPS = [("green", None), ("#EAB839", 0.03), ("orange", 0.05), ("red", 0.15)]


def target(expr, legend="", instant=False, ref="A"):
    t = {"refId": ref, "datasource": DS, "expr": expr, "legendFormat": legend or "__auto"}
    if instant:
        t.update({"instant": True, "range": False, "format": "table"})
    else:
        t.update({"range": True})
    return t


def thresholds(steps):
    return {"mode": "absolute",
            "steps": [{"color": c, "value": v} for c, v in steps]}


def two_axes(left_unit, right_unit):
    """A timeseries fieldConfig: target A on the left axis in `left_unit`, target B on the
    right in `right_unit`."""
    return {"defaults": {"unit": left_unit, "custom": {"showPoints": "never"}},
            "overrides": [{"matcher": {"id": "byFrameRefID", "options": "B"},
                           "properties": [{"id": "unit", "value": right_unit},
                                          {"id": "custom.axisPlacement", "value": "right"}]}]}


def panel(kind, title, targets, description, unit="short", steps=None, w=12, h=8, **extra):
    refs = "ABCDEFGH"
    tgts = []
    for i, t in enumerate(targets):
        if isinstance(t, str):
            t = target(t)
        t = dict(t, refId=refs[i])
        tgts.append(t)
    defaults = {"unit": unit}
    if steps:
        defaults["thresholds"] = thresholds(steps)
    if kind == "timeseries":
        defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                              "showPoints": "never",
                              "thresholdsStyle": {"mode": "line" if steps else "off"}}
    p = {"type": kind, "title": title, "description": description, "datasource": DS,
         "targets": tgts, "fieldConfig": {"defaults": defaults, "overrides": []},
         "_w": w, "_h": h}
    if kind == "timeseries":
        p["options"] = {"legend": {"displayMode": "table", "placement": "bottom",
                                   "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
    elif kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "background", "graphMode": "area", "textMode": "auto"}
    elif kind == "table":
        p["options"] = {"showHeader": True, "footer": {"show": False}}
        p["transformations"] = [{"id": "merge", "options": {}},
                                {"id": "organize", "options": {"excludeByName": {"Time": True}}}]
    elif kind == "bargauge":
        p["options"] = {"orientation": "horizontal", "displayMode": "gradient",
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                          "values": False}}
    p.update(extra)
    return p


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_w": 24, "_h": 1}


def variable(name, label, query):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": "StandardVariableQuery"}, "definition": query,
            "includeAll": True, "multi": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "refresh": 2, "sort": 1, "hide": 0, "options": [], "regex": ""}


VARIABLES = [
    variable("instance", "Instance", "label_values(outpost_up, instance)"),
    variable("provider", "Provider",
             'label_values(outpost_acct_records_total{instance=~"$instance"}, provider)'),
    variable("vmta", "Virtual MTA",
             'label_values(outpost_acct_records_total{instance=~"$instance"}, vmta)'),
]


def layout(items):
    """Assigns gridPos left to right, top to bottom, on Grafana's 24-column grid."""
    x = y = row_h = 0
    out = []
    for pid, p in enumerate(items, start=1):
        w, h = p.pop("_w"), p.pop("_h")
        if x + w > 24 or p["type"] == "row":
            x, y, row_h = 0, y + row_h, 0
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        p["id"] = pid
        x += w
        row_h = max(row_h, h)
        if p["type"] == "row":
            x, y, row_h = 0, y + h, 0
        out.append(p)
    return out


def dashboard(uid, title, description, items, variables=("instance", "provider", "vmta")):
    links = [{"type": "dashboards", "tags": ["outpost"], "asDropdown": False,
              "title": "Outpost", "includeVars": True, "keepTime": True}]
    return {
        "uid": uid, "title": title, "description": description, "tags": ["outpost"],
        "timezone": "browser", "editable": True, "graphTooltip": 1, "schemaVersion": 38,
        "version": 1, "refresh": "30s", "time": {"from": "now-3h", "to": "now"},
        "links": links,
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": [v for v in VARIABLES if v["name"] in variables]},
        "panels": layout(items),
    }


def per_minute(expr):
    return f"({expr}) * 60"


def ratio(by, metric, num_sel, den_sel, window):
    """sum by (BY) of rate(num) / rate(den); 0 (not "no data") where only the denominator has
    series, as in the recording rules."""
    den = f"sum by ({by}) (rate({metric}{{{den_sel}}}[{window}]))"
    return f"(sum by ({by}) (rate({metric}{{{num_sel}}}[{window}])) or 0 * {den}) / {den}"


OVERVIEW = dashboard(
    "outpost-overview", "Outpost / Overview",
    "Is mail flowing? Outcomes, queue, connections, delivery delay and what is alerting.",
    [
        panel("stat", "outpostd up", [f"outpost_up{{{I}}}"],
              "1 when the exporter read outpostd's /status.json at the last scrape.",
              steps=[("red", None), ("green", 1)], w=4, h=4),
        panel("stat", "Ready", [f"outpost_ready{{{I}}}"],
              "1 when /ready says outpostd accepts mail (spool healthy, queue under its cap).",
              steps=[("red", None), ("green", 1)], w=4, h=4),
        panel("stat", "Queued recipients", [f"sum(outpost_queue_recipients{{{I}}})"],
              "Recipients waiting in every queue. Critical alert above 500,000.",
              steps=[("green", None), ("red", 500000)], w=4, h=4),
        panel("stat", "Queues in backoff", [f"sum(outpost_backoff_queues{{{I}}})"],
              "Queues whose receiving ISP pushed them into backoff mode.",
              steps=[("green", None), ("orange", 1)], w=4, h=4),
        panel("stat", "Alerts firing", ['count(ALERTS{alertstate="firing"}) or vector(0)'],
              "Outpost alerts firing in Prometheus now.",
              steps=[("green", None), ("red", 1)], w=4, h=4),
        panel("stat", "Uptime", [f"outpost_uptime_seconds{{{I}}}"],
              "Time since outpostd started.", unit="s", w=4, h=4),
        panel("timeseries", "Outcomes per minute (accounting)",
              [target(per_minute(f'sum by (type) (rate(outpost_acct_records_total{{{IPV},'
                                 f'{ATTEMPTS}}}[$__rate_interval]))'), "{{type}}")],
              "Delivered (d), deferred (t) and bounced (b) recipients per minute, from the "
              "accounting file; filtered by instance, provider and virtual MTA.",
              unit="short"),
        panel("timeseries", "Traffic in / out (messages per minute)",
              [target(per_minute(f"sum by (direction) (rate(outpost_traffic_messages_total"
                                 f"{{{I}}}[$__rate_interval]))"), "{{direction}}")],
              "Messages accepted from injecting clients (in) and delivered (out), from the status "
              "API."),
        panel("timeseries", "Queue depth",
              [target(f"sum(outpost_queue_recipients{{{I}}})", "recipients"),
               target(f"sum(outpost_queue_messages{{{I}}})", "messages"),
               target(f"sum by (mode) (outpost_queue_recipients_by_mode{{{I}}})",
                      "recipients in {{mode}}")],
              "Queued recipients and messages, and recipients by queue mode "
              "(normal / backoff / paused).",
              steps=[("green", None), ("red", 500000)]),
        panel("timeseries", "SMTP connections",
              [target(f"sum by (direction) (outpost_connections{{{I}}})", "{{direction}}")],
              "Open SMTP connections: in = injecting clients, out = to receiving MX hosts."),
        panel("timeseries", "Delivery delay percentiles",
              [target(f"histogram_quantile({q}, sum by (le) (rate("
                      f"outpost_acct_delivery_delay_seconds_bucket{{{IP}}}[$__rate_interval])))",
                      f"p{int(q * 100)}") for q in (0.5, 0.9, 0.99)],
              "Time from queueing to delivery (timeLogged - timeQueued of d records).", unit="s"),
        panel("table", "Alerts firing",
              [target('sum by (alertname, severity, provider, instance) '
                      '(ALERTS{alertstate="firing"})', instant=True)],
              "Every firing alert with its severity (from Prometheus' ALERTS series); what to "
              "do: docs/runbook.md."),
        # The fleet (several outpostd nodes under one Prometheus, docs/scaling-out.md): the
        # totals ignore the instance variable on purpose; the per-node lines follow it.
        panel("timeseries", "Fleet: queued recipients (all nodes, and per node)",
              [target("sum(outpost:fleet_queue_recipients:sum)", "all nodes"),
               target(f"sum by (instance) (outpost_queue_recipients{{{I}}})", "{{instance}}")],
              "The whole fleet's queue (every node scraped by this Prometheus, whatever the "
              "instance variable says) and each selected node's share.",
              steps=[("green", None), ("red", 500000)]),
        panel("timeseries", "Fleet: deferral ratio by provider (worst node, and all nodes)",
              [target('max by (provider) (outpost:fleet_provider_deferral_ratio:max'
                      '{provider=~"$provider"})', "{{provider}} worst node"),
               target('max by (provider) (outpost:fleet_provider_deferral_ratio:rate5m'
                      '{provider=~"$provider"})', "{{provider}} all nodes")],
              "Per provider over 5 minutes: the highest ratio of any one node (what the per-node "
              "alert sees) and the fleet's ratio (all nodes' deferrals / all nodes' attempts: "
              "what the provider sees of us when the nodes share IPs or a domain).",
              unit="percentunit", steps=RATIO_STEPS),
    ])

ISP = dashboard(
    "outpost-isp", "Outpost / ISP deliverability",
    "Per receiving provider: deferral and bounce ratios against the 3 % / 5 % / 15 % thresholds, "
    "why mail is deferred or bounced, complaints and remote bounces, and queues in backoff.",
    [
        panel("timeseries", "Deferral ratio by provider (5m)",
              [target(f"outpost:provider_deferral_ratio:rate5m{{{IP}}}", "{{provider}}")],
              "Deferred / (delivered + deferred + bounced) over 5 minutes, the figure the "
              "OutpostProviderDeferralRatioHigh alert uses. Lines: 3 % (Gmail warning), 5 % "
              "(warning), 15 % (critical: reduce volume).",
              unit="percentunit", steps=RATIO_STEPS),
        panel("timeseries", "Bounce ratio by provider (10m)",
              [target(f"outpost:provider_bounce_ratio:rate10m{{{IP}}}", "{{provider}}")],
              "Bounced / (delivered + bounced) over 10 minutes; critical above 5 %.",
              unit="percentunit", steps=[("green", None), ("red", 0.05)]),
        panel("timeseries", "Attempts per minute by provider",
              [target(per_minute(f"sum by (provider) (rate(outpost_acct_records_total{{{IPV},"
                                 f"{ATTEMPTS}}}[$__rate_interval]))"), "{{provider}}")],
              "Delivery attempts (d + t + b records) per minute: how much each ratio is based on."),
        panel("timeseries", "Hard bounce ratio (1h)",
              [target(f"outpost:hard_bounce_ratio:rate1h{{{I}}}", "{{instance}}")],
              "Hard bounces (bad-mailbox, inactive-mailbox, bad-domain) / final outcomes over an "
              "hour; above 1 % the list needs cleaning.",
              unit="percentunit", steps=[("green", None), ("red", 0.01)]),
        panel("bargauge", "Top deferral reasons (bounce category)",
              [target(f"topk(10, sum by (provider, category) (increase("
                      f"outpost_acct_deferrals_total{{{IP}}}[$__range])))",
                      "{{provider}} {{category}}", instant=True)],
              "Deferrals (t records) in the shown time range by provider and bounce category."),
        panel("bargauge", "Deferral classes: per recipient (t) vs whole queue (tq)",
              [target(f"sum by (provider, type) (increase(outpost_acct_records_total{{{IPV},"
                      f'type=~"deferred|queue_failure"}}[$__range]))',
                      "{{provider}} {{type}}", instant=True)],
              "A recipient-level temporary failure (t) versus a connection- or greeting-level "
              "one that failed the whole queue (tq)."),
        panel("bargauge", "Bounces by category",
              [target(f"topk(10, sum by (provider, category) (increase("
                      f"outpost_acct_bounces_total{{{IP}}}[$__range])))",
                      "{{provider}} {{category}}", instant=True)],
              "Bounces (b records) in the shown time range by provider and bounce category."),
        panel("timeseries", "Hard bounces per minute by provider",
              [target(per_minute(f"sum by (provider) (rate(outpost_acct_hard_bounces_total"
                                 f"{{{IP}}}[$__rate_interval]))"), "{{provider}}")],
              "Bounces in bad-mailbox, inactive-mailbox and bad-domain."),
        panel("timeseries", "Complaint rate by provider (24h)",
              [target(f"outpost:provider_complaint_ratio:rate24h{{{IP}}}", "{{provider}}")],
              "Feedback-loop complaints (f records except not-spam and auth-failure) / delivered "
              "over 24 hours, the figure OutpostComplaintRateHigh uses: warning above 0.1 %, "
              "critical above 0.3 % (Gmail's limit).",
              unit="percentunit", steps=[("green", None), ("orange", 0.001), ("red", 0.003)]),
        panel("timeseries", "Hard-bounce rate by provider (24h, remote bounces included)",
              [target(f"outpost:provider_hard_bounce_ratio:rate24h{{{IP}}}", "{{provider}}")],
              "Hard bounces (b and rb records in bad-mailbox, inactive-mailbox, bad-domain) / "
              "final outcomes over 24 hours, the figure OutpostProviderHardBounceRateHigh uses; "
              "above 1 % the list needs cleaning.",
              unit="percentunit", steps=[("green", None), ("red", 0.01)]),
        panel("bargauge", "Remote bounces by category",
              [target(f"topk(10, sum by (provider, category) (increase("
                      f"outpost_acct_remote_bounces_total{{{IPV}}}[$__range])))",
                      "{{provider}} {{category}}", instant=True)],
              "Bounces that came back by mail after a 250 (rb records) in the shown time range, "
              "by provider and bounce category."),
        panel("bargauge", "Feedback-loop reports by type",
              [target(f"sum by (provider, feedback_type) (increase("
                      f"outpost_acct_feedback_reports_total{{{IPV}}}[$__range]))",
                      "{{provider}} {{feedback_type}}", instant=True)],
              "Complaints and other feedback reports (f records) in the shown time range, by "
              "provider and feedback type (unknown: Outpost's own records, which do not carry "
              "the type)."),
        panel("timeseries", "Queues and recipients in backoff",
              [target(f"sum(outpost_backoff_queues{{{I}}})", "queues"),
               target(f"sum(outpost_backoff_recipients{{{I}}})", "recipients")],
              "Queues an ISP's replies switched to backoff mode (smtp-pattern-list), and their "
              "recipients."),
        panel("table", "Queues in backoff (seconds in backoff)",
              [target(f"outpost_queue_backoff_seconds{{{I}}}", instant=True)],
              "Each queue in backoff (top-N) with the seconds since it entered backoff (0 when "
              "the status API does not say). Warning after an hour."),
        panel("table", "Largest queues",
              [target(f"topk(20, outpost_top_queue_recipients{{{I}}})", instant=True)],
              "The largest queues (domain/vmta) by queued recipients.", w=24),
    ])

VMTA = dashboard(
    "outpost-vmtas", "Outpost / Virtual MTAs and IPs",
    "Per virtual MTA and per source IP: volume, deferral and bounce ratios. If every IP of a "
    "pool defers at one ISP the cause is configuration or content; if one IP does, it is that "
    "IP's reputation.",
    [
        panel("timeseries", "Delivered per minute by virtual MTA",
              [target(per_minute(f'sum by (vmta) (rate(outpost_acct_records_total{{{IPV},'
                                 f'type="delivered"}}[$__rate_interval]))'), "{{vmta}}")],
              "Delivered recipients per minute per virtual MTA."),
        panel("timeseries", "Queued recipients by virtual MTA",
              [target(f'outpost_queue_recipients_by_vmta{{{I},vmta=~"$vmta"}}', "{{vmta}}")],
              "Recipients waiting per virtual MTA (status API)."),
        panel("timeseries", "Deferral ratio by virtual MTA",
              [target(ratio("vmta", "outpost_acct_records_total", f'{IPV},type="deferred"',
                            f"{IPV},{ATTEMPTS}", "$__rate_interval"), "{{vmta}}")],
              "Deferred / attempts per virtual MTA, for the selected providers.",
              unit="percentunit", steps=RATIO_STEPS),
        panel("timeseries", "Bounce ratio by virtual MTA",
              [target(ratio("vmta", "outpost_acct_records_total", f'{IPV},type="bounced"',
                            f'{IPV},type=~"delivered|bounced"', "$__rate_interval"), "{{vmta}}")],
              "Bounced / final outcomes per virtual MTA, for the selected providers.",
              unit="percentunit", steps=[("green", None), ("red", 0.05)]),
        panel("table", "Deferral ratio: virtual MTA x provider",
              [target(ratio("vmta, provider", "outpost_acct_records_total", f'{IPV},type="deferred"',
                            f"{IPV},{ATTEMPTS}", "$__range"), instant=True)],
              "One row per (virtual MTA, provider). A provider high on every virtual MTA: "
              "configuration or content. High on one only: that IP's reputation.",
              unit="percentunit", steps=RATIO_STEPS, w=24),
        panel("timeseries", "Attempts per minute by source IP",
              [target(per_minute(f'sum by (source_ip) (rate(outpost_acct_source_ip_records_total'
                                 f'{{{IP},{ATTEMPTS}}}[$__rate_interval]))'), "{{source_ip}}")],
              "Delivery attempts per local source address (dlvSourceIp)."),
        panel("timeseries", "Deferral ratio by source IP",
              [target(ratio("source_ip", "outpost_acct_source_ip_records_total",
                            f'{IP},type="deferred"', f"{IP},{ATTEMPTS}", "$__rate_interval"),
                      "{{source_ip}}")],
              "Deferred / attempts per source IP, for the selected providers.",
              unit="percentunit", steps=RATIO_STEPS),
        panel("timeseries", "Bounce ratio by source IP",
              [target(ratio("source_ip", "outpost_acct_source_ip_records_total",
                            f'{IP},type="bounced"', f'{IP},type=~"delivered|bounced"',
                            "$__rate_interval"), "{{source_ip}}")],
              "Bounced / final outcomes per source IP, for the selected providers.",
              unit="percentunit", steps=[("green", None), ("red", 0.05)]),
        panel("table", "Deferral ratio: source IP x provider",
              [target(ratio("source_ip, provider", "outpost_acct_source_ip_records_total",
                            f'{IP},type="deferred"', f"{IP},{ATTEMPTS}", "$__range"),
                      instant=True)],
              "One row per (source IP, provider).", unit="percentunit", steps=RATIO_STEPS,
              w=24),
    ])

CAPACITY = dashboard(
    "outpost-capacity", "Outpost / Capacity and resources",
    "Memory and swap, file descriptors, spool disk, queue depth against memory, DNS cache and "
    "the exporter's own health.",
    [
        panel("timeseries", "Resident memory and swap",
              [target(f"outpost_process_resident_memory_bytes{{{I}}}", "RSS {{instance}}"),
               target(f"outpost_process_swap_bytes{{{I}}}", "swap {{instance}}")],
              "outpostd's RSS (warning above 12 GiB) and swap (critical above 100 MiB).",
              unit="bytes"),
        panel("timeseries", "Memory per queued recipient",
              [target(f"outpost_process_resident_memory_bytes{{{I}}} / on (job, instance) "
                      f"clamp_min(outpost_queue_recipients{{{I}}}, 1)", "{{instance}}")],
              "RSS divided by queued recipients. Memory should follow the queue; RSS growing "
              "while the queue does not is a leak (OutpostMemoryLeakSuspected).", unit="bytes"),
        panel("timeseries", "Queue depth vs memory",
              [target(f"sum by (instance) (outpost_queue_recipients{{{I}}})",
                      "queued recipients {{instance}}"),
               target(f"outpost_process_resident_memory_bytes{{{I}}}", "RSS {{instance}}")],
              "Queued recipients (left axis) and RSS (right axis).",
              fieldConfig=two_axes("short", "bytes")),
        panel("timeseries", "File descriptors",
              [target(f"outpost_process_open_fds{{{I}}}", "open {{instance}}"),
               target(f"outpost_process_max_fds{{{I}}}", "limit {{instance}}")],
              "Open file descriptors and the limit (LimitNOFILE)."),
        panel("timeseries", "File descriptors used (of the limit)",
              [target(f"outpost:fd_usage_ratio{{{I}}}", "{{instance}}")],
              "Warning above 80 %.", unit="percentunit",
              steps=[("green", None), ("red", 0.8)]),
        panel("timeseries", "Spool file system used",
              [target(f"outpost:spool_disk_usage_ratio{{{I}}}", "{{instance}}")],
              "Used / (used + free) of the spool's file system; warning above 85 %.",
              unit="percentunit", steps=[("green", None), ("red", 0.85)]),
        panel("timeseries", "Spool contents",
              [target(f"outpost_spool_bytes{{{I}}}", "on disk {{instance}}"),
               target(f"outpost_spool_entries{{{I}}}", "messages {{instance}}"),
               target(f"outpost_spool_live_bytes{{{I}}}", "live {{instance}}"),
               target(f"increase(outpost_spool_compaction_reclaimed_bytes_total{{{I}}}"
                      f"[$__rate_interval])", "reclaimed {{instance}}")],
              "Bytes of spool segment files on disk, of the live entries in them, and deleted "
              "by compaction in each interval (left); spooled messages (right). Far more on "
              "disk than live is finished mail not yet compacted away "
              "(OutpostSpoolNotCompacting above 4 times, with over 1 GiB on disk).",
              unit="bytes", fieldConfig=two_axes("bytes", "short")),
        panel("timeseries", "CPU",
              [target(f"rate(outpost_process_cpu_seconds_total{{{I}}}[$__rate_interval])",
                      "{{instance}}")],
              "CPU seconds per second used by outpostd.", unit="percentunit"),
        panel("timeseries", "DNS cache",
              [target(f"outpost_dns_cache_entries{{{I}}}", "entries {{instance}}"),
               target(f"outpost_dns_cache_hit_ratio{{{I}}}", "hit ratio {{instance}}")],
              "Cached DNS answers (left) and the hit ratio since start (right).",
              fieldConfig=two_axes("short", "percentunit")),
        panel("timeseries", "Accounting backlog",
              [target(f"outpost_accounting_buffered_bytes{{{I}}}", "buffered {{instance}}"),
               target(f"outpost_accounting_held_recipients{{{I}}}", "held {{instance}}")],
              "Accounting bytes waiting in memory for their file (left; above 0 only while "
              "the accounting disk is full) and finished recipients kept in the spool until "
              "their records are written (right). Critical alert after 2 minutes.",
              unit="bytes",
              fieldConfig=two_axes("bytes", "short")),
        panel("timeseries", "DKIM signing",
              [target(f"rate(outpost_dkim_signed_total{{{I}}}[$__rate_interval])",
                      "signed {{instance}}"),
               target(f"rate(outpost_dkim_unsigned_no_key_total{{{I}}}[$__rate_interval])",
                      "unsigned, no key {{instance}}"),
               target(f"rate(outpost_dkim_sign_failures_total{{{I}}}[$__rate_interval])",
                      "signing failed {{instance}}")],
              "Transactions per second sent with a DKIM-Signature, and sent unsigned (no "
              "domain-key for the From: domain; or the key did not fit / signing failed).",
              unit="ops"),
        panel("timeseries", "Configuration reload failures",
              [target(f"increase(outpost_config_reload_failures_total{{{I}}}[$__rate_interval])",
                      "{{instance}}")],
              "Reloads refused because the new configuration had errors."),
        panel("timeseries", "Exporter: scrape health",
              [target(f'up{{job="outpost",{I}}}', "up {{instance}}"),
               target(f"outpost_status_scrape_duration_seconds{{{I}}}",
                      "status query s {{instance}}"),
               target(f'scrape_duration_seconds{{job="outpost",{I}}}',
                      "scrape s {{instance}}")],
              "Whether Prometheus reaches the exporter, how long its /status.json query and the "
              "whole scrape take."),
        panel("timeseries", "Exporter: accounting ingest",
              [target(f"rate(outpost_exporter_lines_read_total{{{I}}}[$__rate_interval])",
                      "lines/s {{instance}}"),
               target(f"rate(outpost_exporter_malformed_lines_total{{{I}}}[$__rate_interval])",
                      "malformed/s {{instance}}"),
               target(f"outpost_exporter_behind_bytes{{{I}}}", "behind bytes {{instance}}"),
               target(f"increase(outpost_exporter_state_write_errors_total{{{I}}}"
                      f"[$__rate_interval])", "state write errors {{instance}}")],
              "Lines read, malformed lines, unread bytes in the followed files and state-file "
              "write errors."),
    ], variables=("instance",))

DASHBOARDS = {
    "outpost-overview.json": OVERVIEW,
    "outpost-isp.json": ISP,
    "outpost-vmtas.json": VMTA,
    "outpost-capacity.json": CAPACITY,
}


def render():
    return {name: json.dumps(d, indent=2, sort_keys=False) + "\n" for name, d in DASHBOARDS.items()}


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    for name, text in render().items():
        with open(os.path.join(here, name), "w") as f:
            f.write(text)
        print(f"wrote dashboards/{name}")
