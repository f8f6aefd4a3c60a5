#include "mta/mgmt/console.hpp"

namespace outpost::mgmt {

// One function of about 200 lines, on purpose: its body is the console page itself (HTML, CSS
// and the script that polls the status API) as one raw string literal, kept whole so it reads and
// diffs as the page it is.
const char* ConsoleHtml() {
  return R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Outpost console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 24px;
           align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header span { font-size: 13px; opacity: .85; }
  #state.ok { color: #7ee2a8; } #state.bad { color: #ff8a80; }
  main { padding: 14px 20px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 10px; }
  .card { background: #fff; border-radius: 6px; padding: 10px 12px; box-shadow: 0 1px 2px #0002; }
  .card h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: #667;
             margin: 0 0 6px; }
  .card .big { font-size: 22px; font-weight: 600; }
  .card .small { font-size: 12px; color: #556; }
  section { margin-top: 16px; }
  section h2 { font-size: 15px; margin: 0 0 6px; }
  table { border-collapse: collapse; width: 100%; background: #fff; font-size: 13px;
          box-shadow: 0 1px 2px #0002; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e6ea; }
  th { background: #eceef2; font-weight: 600; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.err { color: #a33; max-width: 420px; overflow: hidden; text-overflow: ellipsis;
           white-space: nowrap; }
  .mode-backoff { color: #b35c00; font-weight: 600; }
  .paused { color: #a33; font-weight: 600; }
  #error { color: #a33; font-weight: 600; }
</style>
</head>
<body>
<header>
  <h1>Outpost</h1>
  <span id="version">version ?</span>
  <span id="uptime">uptime ?</span>
  <span id="state">loading…</span>
  <span id="updated"></span>
  <span id="error"></span>
</header>
<main>
  <div class="cards">
    <div class="card"><h2>Connections</h2><div class="big" id="conn">–</div>
      <div class="small" id="conn-detail"></div></div>
    <div class="card"><h2>Traffic in (msgs)</h2><div class="big" id="in-min">–</div>
      <div class="small" id="in-detail"></div></div>
    <div class="card"><h2>Traffic out (msgs)</h2><div class="big" id="out-min">–</div>
      <div class="small" id="out-detail"></div></div>
    <div class="card"><h2>Queued recipients</h2><div class="big" id="queued">–</div>
      <div class="small" id="queued-detail"></div></div>
    <div class="card"><h2>Outcomes (last hour)</h2><div class="big" id="outcomes">–</div>
      <div class="small" id="outcomes-detail"></div></div>
    <div class="card"><h2>Spool</h2><div class="big" id="spool">–</div>
      <div class="small" id="spool-detail"></div></div>
    <div class="card"><h2>Process</h2><div class="big" id="rss">–</div>
      <div class="small" id="process-detail"></div></div>
    <div class="card"><h2>DNS cache</h2><div class="big" id="dns">–</div>
      <div class="small" id="dns-detail"></div></div>
    <div class="card"><h2>Signing pool</h2><div class="big" id="signing">–</div>
      <div class="small" id="signing-detail"></div></div>
  </div>
  <section><h2>Top queues</h2>
    <table id="queues"><thead><tr><th>Queue</th><th>Mode</th><th class="num">Recipients</th>
      <th class="num">Messages</th><th class="num">Conns</th><th class="num">Delivered</th>
      <th class="num">Deferred</th><th class="num">Bounced</th><th class="num">Oldest</th>
      <th>Last error</th></tr></thead>
      <tbody></tbody></table></section>
  <section><h2>Virtual MTAs</h2>
    <table id="vmtas"><thead><tr><th>VMTA</th><th class="num">Queued</th>
      <th class="num">Conns</th><th class="num">Delivered/min (1m)</th>
      <th class="num">Delivered (1h)</th><th class="num">Deferred (1h)</th>
      <th class="num">Bounced (1h)</th><th class="num">Deferral ratio</th></tr></thead>
      <tbody></tbody></table></section>
  <section><h2>Domains</h2>
    <table id="domains"><thead><tr><th>Domain</th><th class="num">Queued</th>
      <th class="num">Delivered/min (5m)</th><th class="num">Deferred/min (5m)</th>
      <th class="num">Bounced/min (5m)</th><th class="num">Deferral ratio (1h)</th>
      <th>Last error</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Jobs</h2>
    <table id="jobs"><thead><tr><th>Job</th><th>State</th><th class="num">Queued</th>
      <th class="num">Messages</th><th class="num">Delivered</th><th class="num">Deferred</th>
      <th class="num">Bounced</th><th class="num">Deleted</th></tr></thead>
      <tbody></tbody></table></section>
  <section><h2>Alert actions (<span id="actions-rules">0</span> rules)</h2>
    <table id="actions"><thead><tr><th>Rule</th><th>Action</th><th>Alert</th><th>Since</th>
      <th>Until</th><th>State</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Return path today (<span id="rp-day">UTC</span>)</h2>
    <table id="returnpath"><thead><tr><th>Provider</th><th class="num">Remote bounces</th>
      <th class="num">Complaints</th></tr></thead><tbody></tbody></table></section>
</main>
<script>
"use strict";
function $(id) { return document.getElementById(id); }
function fmt(n) { return Number(n).toLocaleString("en-US"); }
function fixed(n, d) { return Number(n).toFixed(d); }
function bytes(n) {
  const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0; n = Number(n);
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return n.toFixed(i ? 1 : 0) + " " + u[i];
}
function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + "d " : "") + h + "h " + m + "m " + (s % 60) + "s";
}
function set(id, text) { $(id).textContent = text; }
function fill(tableId, rows) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const cell of row) {
      const td = document.createElement("td");
      td.textContent = cell.text;
      if (cell.cls) td.className = cell.cls;
      if (cell.title) td.title = cell.title;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}
function num(v) { return { text: fmt(v), cls: "num" }; }
async function get(path) {
  const r = await fetch(path, { cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}
function showStatus(s) {
  set("version", "version " + s.version);
  set("uptime", "uptime " + duration(s.uptime_seconds));
  $("state").textContent = s.ready ? "ready" : "NOT READY: " + s.not_ready_reasons.join("; ");
  $("state").className = s.ready ? "ok" : "bad";
  set("updated", "updated " + s.generated_at);
  set("conn", fmt(s.connections.smtp_in) + " in / " + fmt(s.connections.smtp_out) + " out");
  set("conn-detail", fmt(s.connections.smtp_in_total) + " inbound sessions since start");
  const ti = s.traffic.in, to = s.traffic.out;
  set("in-min", fmt(ti.last_minute.messages) + " /min");
  set("in-detail", "last hour " + fmt(ti.last_hour.messages) + " msgs, total " +
      fmt(ti.total.messages) + " msgs, " + fmt(ti.total.recipients) + " rcpts, " +
      bytes(ti.total.bytes));
  set("out-min", fmt(to.last_minute.messages) + " /min");
  set("out-detail", "last hour " + fmt(to.last_hour.messages) + " msgs, total " +
      fmt(to.total.messages) + " msgs, " + fmt(to.total.recipients) + " rcpts, " +
      bytes(to.total.bytes));
  set("queued", fmt(s.queue.recipients));
  set("queued-detail", fmt(s.queue.messages) + " msgs in " + fmt(s.queue.queues) + " queues; " +
      fmt(s.queue.recipients_in_backoff) + " rcpts in backoff (" + fmt(s.queue.queues_in_backoff) +
      " queues); " + fmt(s.queue.paused_queues) + " paused; " + fmt(s.queue.stalled_queues || 0) +
      " stalled; oldest " + duration(s.queue.oldest_age_seconds || 0));
  const o = s.outcomes;
  set("outcomes", fmt(o.delivered.last_1h) + " delivered");
  set("outcomes-detail", fmt(o.deferred.last_1h) + " deferred, " + fmt(o.bounced.last_1h) +
      " bounced; totals " + fmt(o.delivered.total) + " / " + fmt(o.deferred.total) + " / " +
      fmt(o.bounced.total));
  set("spool", (s.spool.healthy ? "healthy" : "UNHEALTHY") + ", " + fmt(s.spool.entries) + " msgs");
  set("spool-detail", bytes(s.spool.bytes) + " in segments; disk " + bytes(s.spool.disk_used_bytes) +
      " used, " + bytes(s.spool.disk_free_bytes) + " free");
  set("rss", bytes(s.process.rss_bytes) + " RSS");
  set("process-detail", "swap " + bytes(s.process.swap_bytes) + ", fds " + fmt(s.process.open_fds) +
      " / " + fmt(s.process.max_fds) + ", cpu " + fixed(s.process.cpu_seconds, 1) + " s");
  set("dns", fmt(s.dns.cache_entries) + " entries");
  set("dns-detail", "hit ratio " + fixed(s.dns.hit_ratio * 100, 1) + "%, " + fmt(s.dns.queries) +
      " queries, " + fmt(s.dns.failures) + " failures");
  if (s.signing_pool) showSigning(s.signing_pool, s.dkim);
  if (s.returnpath) showReturnPath(s.returnpath);
  if (s.actions) showActions(s.actions);
}
function showSigning(p, d) {
  set("signing", fixed(p.busy_fraction * 100, 0) + "% busy");
  set("signing-detail", fmt(p.threads) + " threads, " + fmt(p.running) + " signing, " +
      fmt(p.queued) + " queued, " + fmt(p.waiting) + " waiting; signed " + fmt(d.signed) +
      " DKIM, " + fmt(d.domainkeys_signed || 0) + " DomainKeys; " + fmt(d.sign_failures) +
      " failures");
}
function showActions(a) {
  set("actions-rules", fmt(a.rules));
  const row = (x, state) => [{ text: x.rule }, { text: x.action + " " + x.target +
      (x.pool ? " -> " + x.pool : "") }, { text: x.alert ? x.alert.alertname : x.alertname },
      { text: x.since || x.time }, { text: x.until || "" }, state];
  fill("actions", a.active.map(x => row(x, { text: "active", cls: "paused" })).concat(
      a.recent.slice(0, 10).map(x => row(x, { text: x.event + " (" + x.why + ")",
                                              title: x.error || "" }))));
}
function showReturnPath(rp) {
  set("rp-day", rp.day + " UTC");
  fill("returnpath", Object.entries(rp.by_provider).map(([name, x]) => [
    { text: name }, num(x.remote_bounces), num(x.complaints)]));
}
function showQueues(q) {
  fill("queues", q.queues.map(x => [
    { text: x.name },
    { text: x.mode + (x.paused ? " (paused)" : "") + (x.stalled ? " (stalled)" : ""),
      cls: x.paused ? "paused" : (x.mode === "backoff" ? "mode-backoff" : "") },
    num(x.recipients), num(x.messages), num(x.connections), num(x.delivered), num(x.deferred),
    num(x.bounced), { text: duration(x.oldest_age_seconds || 0), cls: "num" },
    { text: x.last_error, cls: "err", title: x.last_error }]));
}
function showVmtas(v) {
  fill("vmtas", v.vmtas.map(x => [
    { text: x.vmta }, num(x.recipients), num(x.connections),
    { text: fixed(x.delivered.rate_1m, 0), cls: "num" }, num(x.delivered.last_1h),
    num(x.deferred.last_1h), num(x.bounced.last_1h),
    { text: fixed(x.deferral_ratio_1h * 100, 1) + "%", cls: "num" }]));
}
function showDomains(d) {
  fill("domains", d.domains.map(x => [
    { text: x.domain }, num(x.recipients),
    { text: fixed(x.delivered.rate_5m, 1), cls: "num" },
    { text: fixed(x.deferred.rate_5m, 1), cls: "num" },
    { text: fixed(x.bounced.rate_5m, 1), cls: "num" },
    { text: fixed(x.deferral_ratio_1h * 100, 1) + "%", cls: "num" },
    { text: x.last_error, cls: "err", title: x.last_error }]));
}
function showJobs(j) {
  fill("jobs", j.jobs.slice(0, 20).map(x => [
    { text: x.id }, { text: x.paused ? "paused" : "running", cls: x.paused ? "paused" : "" },
    num(x.recipients), num(x.messages), num(x.delivered), num(x.deferred), num(x.bounced),
    num(x.deleted)]));
}
async function refresh() {
  try {
    const [s, q, v, d, j] = await Promise.all([get("/status.json"), get("/queues.json?top=20"),
                                               get("/vmtas.json"), get("/domains.json"),
                                               get("/jobs.json")]);
    showStatus(s); showQueues(q); showVmtas(v); showDomains(d); showJobs(j);
    set("error", "");
  } catch (e) {
    set("error", "cannot read outpostd: " + e.message);
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)HTML";
}

}  // namespace outpost::mgmt
