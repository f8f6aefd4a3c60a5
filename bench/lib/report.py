"""bench/run's output: gnuplot plots (PNG) and the Markdown report from the results dict.

plots(results, plot_dir, work) -> list of PNG paths written; write_markdown(results, plots, out,
previous) writes out/RESULTS.md. Both only read the results dict that bench/run also writes to
results.json, so a report can be regenerated from a results.json alone:
  python3 -c 'import sys,json; sys.path.insert(0,"bench/lib"); import report; ...'
"""
import os
import subprocess

TERM = 'set terminal pngcairo size 960,560 font "DejaVu Sans,11" noenhanced\n'


def fmt(x, digits=None):
    if x is None:
        return "n/a"
    if digits is None and isinstance(x, int):
        digits = 0
    if digits is None:
        digits = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return "{:,.{}f}".format(x, digits)


def med(s, digits=None):
    return fmt(s["median"], digits) if s else "n/a"


def spread(s, digits=None):
    if not s:
        return "n/a"
    if s["n"] == 1:
        return "1 run"
    return "%s–%s" % (fmt(s["min"], digits), fmt(s["max"], digits))


def size_label(b):
    return "%d MB" % (b // 1048576) if b >= 1048576 else ("%d KB" % (b // 1024) if b >= 1024 else "%d B" % b)


def gnuplot(script, work):
    path = os.path.join(work, "plot.gp")
    with open(path, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", path], check=True)


def write_dat(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(" ".join(str(x) for x in row) + "\n")


def relay_curve(points, key, dat):
    rows = []
    for pt in points:
        x = pt[key]
        row = [x]
        for path in ("outpostd", "postfix", "direct"):
            s = pt[path]
            row += [s["median"], s["min"], s["max"]]
        row += [pt["size"] * pt["outpostd"]["median"] / 1e6, pt["size"] * pt["postfix"]["median"] / 1e6,
                pt["size"] * pt["direct"]["median"] / 1e6]
        rows.append(row)
    write_dat(dat, rows)


CURVES = ('"{dat}" using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb "#1f77b4" title "outpostd", '
          '"{dat}" using 1:5:6:7 with yerrorlines lw 2 pt 5 lc rgb "#d62728" title "Postfix", '
          '"{dat}" using 1:8:9:10 with yerrorlines lw 2 dt 2 pt 9 lc rgb "#555555" '
          'title "smtp-source -> smtp-sink (harness ceiling)"')


def plots(results, plot_dir, work):
    sc = results["scenarios"]
    made = []
    reps = "median of %d runs, bars min-max" % results["reps"]

    if "relay_sessions" in sc:
        dat = os.path.join(work, "sessions.dat")
        relay_curve(sc["relay_sessions"]["points"], "sessions", dat)
        png = os.path.join(plot_dir, "relay_sessions.png")
        gnuplot(TERM + 'set output "%s"\nset title "Relay throughput vs concurrent sessions (4 KB messages; %s)"\n'
                'set logscale x\nset xlabel "smtp-source sessions"\nset ylabel "messages/s (end to end)"\n'
                'set grid\nset key top left\nset yrange [0:*]\nset xtics (1,5,20,100,500)\n'
                "plot " % (png, reps) + CURVES.format(dat=dat) + "\n", work)
        made.append(png)

    if "relay_sizes" in sc:
        dat = os.path.join(work, "sizes.dat")
        pts = sc["relay_sizes"]["points"]
        relay_curve(pts, "size", dat)
        png = os.path.join(plot_dir, "relay_sizes.png")
        xt = ",".join('"%s" %d' % (size_label(p["size"]), p["size"]) for p in pts)
        gnuplot(TERM.replace("960,560", "1200,560") +
                'set output "%s"\nset multiplot layout 1,2 title "Relay throughput vs message size (20 sessions; %s)"\n'
                'set logscale x\nset xtics (%s)\nset xlabel "message size"\nset grid\nset key bottom left\n'
                'set logscale y\nset ylabel "messages/s (log)"\nset title "messages/s"\nplot ' % (png, reps, xt) +
                CURVES.format(dat=dat) + "\n"
                'unset logscale y\nset yrange [0:*]\nset ylabel "MB/s of message data"\nset title "MB/s"\n'
                'set key top left\n'
                'plot "{dat}" using 1:11 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "outpostd", '
                '"{dat}" using 1:12 with linespoints lw 2 pt 5 lc rgb "#d62728" title "Postfix", '
                '"{dat}" using 1:13 with linespoints lw 2 dt 2 pt 9 lc rgb "#555555" title "ceiling"\n'
                'unset multiplot\n'.format(dat=dat), work)
        made.append(png)

    if "rss" in sc:
        dat = os.path.join(work, "rss.dat")
        rows = []
        for p in sc["rss"]["points"]:
            d = p["delta_bytes"]
            b = p["b_per_rcpt"]
            rows.append([p["recipients"], d["median"] / 1048576, d["min"] / 1048576, d["max"] / 1048576,
                         b["median"], b["min"], b["max"], p["recipients"] * 128 / 1048576])
        write_dat(dat, rows)
        png = os.path.join(plot_dir, "rss.png")
        gnuplot(
            TERM.replace("960,560", "1200,560") +
            ('set output "%s"\n' % png) +
            'set multiplot layout 1,2 title "outpostd memory per queued recipient (100 recipients/message, queue held)"\n'
            'set logscale xy\nset grid\nset xlabel "queued recipients"\nset format x "%.0s%c"\n'
            'set ylabel "RSS growth (MiB, log)"\nset key top left\nset title "RSS growth (linear growth = slope 1)"\n'
            'plot "' + dat + '" using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb "#1f77b4" title "outpostd (VmRSS after - before)", '
            '"' + dat + '" using 1:8 with lines lw 2 dt 2 lc rgb "#d62728" title "128 B/recipient (target)"\n'
            'set ylabel "bytes per queued recipient (log)"\n'
            'set title "bytes per recipient (target <= 128 at 1M)"\nset key top right\n'
            'plot "' + dat + '" using 1:5:6:7 with yerrorlines lw 2 pt 7 lc rgb "#1f77b4" title "outpostd", '
            '128 with lines lw 2 dt 2 lc rgb "#d62728" title "target 128 B"\n'
            'unset multiplot\n', work)
        made.append(png)

    # Summary: ratios to the peer against their targets, and fractions of the machine's limit.
    peer_rows, limit_rows = [], []
    if "inject" in sc:
        peer_rows.append(("injection / Postfix", sc["inject"]["ratio"], 5))
    if "relay" in sc:
        peer_rows.append(("relay / Postfix", sc["relay"]["vs_postfix"], 5))
        limit_rows.append(("relay / ceiling", sc["relay"]["fraction_of_ceiling"]))
    if "exporter" in sc:
        peer_rows.append(("exporter / mtail", sc["exporter"]["vs_mtail"], 20))
        limit_rows.append(("exporter / wc -l", sc["exporter"]["fraction_of_wc"]))
    if "dkim" in sc:
        limit_rows.append(("DKIM RSA / openssl", sc["dkim"]["rsa2048"]["fraction"]))
        limit_rows.append(("DKIM Ed25519 / openssl", sc["dkim"]["ed25519"]["fraction"]))
    if peer_rows or limit_rows:
        dat1 = os.path.join(work, "peer.dat")
        dat2 = os.path.join(work, "limit.dat")
        write_dat(dat1, [['"%s"' % n, v or 0, t, '"%.1fx (target %dx)"' % (v or 0, t)] for n, v, t in peer_rows]
                  or [['"none"', 0, 0, '""']])
        top = max([1.0] + [max(v or 0, t) for _, v, t in peer_rows]) * 1.2
        write_dat(dat2, [['"%s"' % n, v or 0, '"%.0f%%"' % (100 * (v or 0))] for n, v in limit_rows] or [['"none"', 0, '""']])
        png = os.path.join(plot_dir, "summary.png")
        gnuplot(TERM.replace("960,560", "1200,560") +
                'set output "%s"\nset multiplot layout 1,2 title "Outpost vs its peers (medians, %d run(s) each)"\n'
                'set style fill solid 0.8 border -1\nset boxwidth 0.6\nset grid ytics\nset xtics rotate by -15\n'
                'set bmargin 5\nset title "times the peer (red bar = target)"\nset ylabel "outpost / peer"\n'
                'set yrange [0:%f]\nset xrange [-0.6:*]\nset key top left\n'
                'plot "%s" using 0:2:xtic(1) with boxes lc rgb "#1f77b4" title "measured", '
                '"" using 0:3:(0.3) with xerrorbars pt 0 lw 4 lc rgb "#d62728" title "target", '
                '"" using 0:2:4 with labels offset 0,1 notitle\n'
                'set title "fraction of the limit on this machine"\nset ylabel "outpost / limit"\nset yrange [0:1.2]\n'
                'set xrange [-0.6:*]\nset rmargin 8\n'
                'plot "%s" using 0:2:xtic(1) with boxes lc rgb "#2ca02c" notitle, '
                '1 with lines dt 2 lc rgb "#555555" title "the limit", '
                '"" using 0:2:3 with labels offset 0,1 notitle\n'
                'unset multiplot\n' % (png, results["reps"], top, dat1, dat2), work)
        made.append(png)
    return made


def target_row(name, figure, peer, value, target, met):
    return "| %s | %s | %s | %s | %s | %s |" % (name, figure, peer, value, target,
                                               "n/a" if met is None else ("**met**" if met else "**not met**"))


def write_markdown(results, plots, out, previous):
    sc = results["scenarios"]
    m = results["machine"]
    L = []
    w = L.append
    w("# Benchmark results")
    w("")
    w("Generated by `bench/run` (bench/README.md): do not edit by hand, run it again. "
      "Mode **%s**, %d repetition(s) per figure (median, spread = min–max), started %s, took %.0f min. "
      "Every scenario runs outpost and its peer in the same run, alternating. Raw figures: results.json." %
      (results["mode"], results["reps"], results["started"], results["elapsed_s"] / 60))
    w("")
    w("Command: `%s`" % results["command"])
    w("")
    if not results.get("complete", True):
        w("**Partial: this run has not finished (or was interrupted); only the scenarios below were measured.**")
        w("")
    if results["failures"]:
        w("**Failed scenarios:**")
        w("")
        for f in results["failures"]:
            w("* `%s`" % f.splitlines()[0])
        w("")
    w("## Summary")
    w("")
    w("| scenario | outpost (median) | peer / limit (median) | ratio | target | |")
    w("|---|---:|---:|---:|---|---|")
    if "inject" in sc:
        s = sc["inject"]
        w(target_row("injection, durable spool (msg/s)", med(s["outpostd"]), "Postfix " + med(s["postfix"]),
                     fmt(s["ratio"], 2) + "×", "≥ 5×", s["ratio"] >= 5))
    if "relay" in sc:
        s = sc["relay"]
        w(target_row("relay end to end (msg/s)", med(s["outpostd"]), "Postfix " + med(s["postfix"]),
                     fmt(s["vs_postfix"], 2) + "×", "≥ 5×", s["vs_postfix"] >= 5))
        w(target_row("relay / harness ceiling", med(s["outpostd"]), "smtp-source→smtp-sink " + med(s["direct"]),
                     "%.0f%%" % (100 * s["fraction_of_ceiling"]), "(reported)", None))
    if "rss" in sc:
        for p in sc["rss"]["points"]:
            if p["recipients"] == 1000000:
                b = p["b_per_rcpt"]["median"]
                w(target_row("RSS per queued recipient at 1M (bytes)", fmt(b, 1), "", "", "≤ 128", b <= 128))
        pts = sc["rss"]["points"]
        if len(pts) >= 2 and "marginal_b_per_rcpt" in pts[-1]:
            last = pts[-1]
            lin = last["marginal_b_per_rcpt"] <= max(128.0, 1.25 * last["b_per_rcpt"]["median"])
            w(target_row("RSS growth %s→%s (marginal bytes/recipient)" % (fmt(pts[-2]["recipients"]), fmt(last["recipients"])),
                         fmt(last["marginal_b_per_rcpt"], 1), "", "", "linear (marginal ≤ average, ≤ 128)", lin))
    if "recovery" in sc:
        s = sc["recovery"]
        w(target_row("restart with %s queued recipients (s to ready)" % fmt(s["recipients"]), med(s["ready_s"], 3), "",
                     "", "(reported)", None))
    if "compaction" in sc:
        s = sc["compaction"]
        w(target_row("injection while the spool compacts (msg/s)", med(s["with"]),
                     "compaction off " + med(s["without"]), fmt(s["ratio"], 2) + "×", "≥ 0.8×",
                     s["ratio"] >= 0.8))
    if "exporter" in sc:
        s = sc["exporter"]
        w(target_row("exporter ingest (records/s)", med(s["exporter"]), "mtail " + med(s["mtail"]),
                     fmt(s["vs_mtail"], 1) + "×", "≥ 20×", s["vs_mtail"] >= 20))
        w(target_row("exporter / wc -l", med(s["exporter"]), "wc -l " + med(s["wc"]),
                     "%.0f%%" % (100 * s["fraction_of_wc"]), "(reported)", None))
    if "mgmt" in sc:
        s = sc["mgmt"]
        w(target_row("/status.json p99 while relaying (ms)", med(s["p99_ms"], 2), "", "", "p99 < 50 ms (mgmt issue)",
                     s["p99_ms"]["median"] < 50))
    if "relay_dkim" in sc:
        s = sc["relay_dkim"]
        w(target_row("DKIM-signed relay / unsigned relay", med(s["signed"]), "unsigned " + med(s["unsigned"]),
                     fmt(s["ratio"], 2) + "×", "≥ 0.55×", s["ratio"] is not None and s["ratio"] >= 0.55))
        w(target_row("outpostd cores while signing", med(s["signed_cores"], 2), "", "", "> 1.5",
                     s["signed_cores"]["median"] > 1.5))
    if "dkim" in sc:
        for key, label in (("rsa2048", "RSA-2048"), ("ed25519", "Ed25519")):
            s = sc["dkim"][key]
            w(target_row("DKIM %s signatures/s (CPU)" % label, med(s["outpost"]), "openssl speed " + med(s["openssl"]),
                         "%.0f%%" % (100 * s["fraction"]), "(reported)", None))
    w("")
    for png in plots:
        if os.path.basename(png) == "summary.png":
            w("![summary](plots/summary.png)")
            w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    for k in ("cpu", "cpus", "memory_gib", "os", "kernel", "disk", "compiler", "build_type", "commit", "postfix",
              "mtail", "wrk", "openssl", "gnuplot"):
        w("| %s | %s |" % (k.replace("_", " "), m.get(k, "?")))
    w("| load average (1/5/15 min) before / after | %s / %s |" % (results["load_before"], results["load_after"]))
    w("")
    try:
        load1 = float(results["load_before"].split()[0])
    except (ValueError, IndexError):
        load1 = 0.0
    if load1 >= 0.5 * (m.get("cpus") or 1):
        w("The machine was **not idle**: the load average before the run was %s on %s CPUs (other jobs, e.g. "
          "compilations, shared the CPUs). Every figure, outpost's and its peer's alike, is lower and noisier "
          "than on an idle machine; the per-scenario load is given in each section. Ratios measured in the "
          "same run (alternating) are more trustworthy than absolute rates." % (results["load_before"], m.get("cpus")))
        w("")

    def commands(s):
        w("")
        w("Commands (from the repository root):")
        w("")
        w("```")
        for c in s["commands"]:
            w(c)
        w("```")
        w("")
        w("Load average before / after: %s / %s; %.0f s." % (s["load_before"], s["load_after"], s["elapsed_s"]))
        w("")

    if "inject" in sc:
        s = sc["inject"]
        w("## Injection rate, durable spool")
        w("")
        w("smtp-source (%d sessions, %s messages of %d bytes) into outpostd (durable spool) and into Postfix "
          "(smtpd + cleanup into its queue, delivery held), bench/inject.sh." % (s["sessions"], fmt(s["messages"]), s["size"]))
        w("")
        w("| contender | median msg/s | spread | runs |")
        w("|---|---:|---:|---|")
        for k, label in (("outpostd", "outpostd"), ("postfix", "Postfix")):
            w("| %s | %s | %s | %s |" % (label, med(s[k]), spread(s[k]), ", ".join(fmt(x) for x in s[k]["runs"])))
        w("")
        w("outpostd / Postfix: **%s×** (target ≥ 5×)." % fmt(s["ratio"], 2))
        commands(s)

    if "http_submit" in sc:
        s = sc["http_submit"]
        w("## HTTP submission vs SMTP injection")
        w("")
        w("The same %s messages of %d bytes (one recipient each) into one outpostd (durable spool, mail "
          "held) over %d keep-alive HTTP connections to /api/v1/transmissions and over %d SMTP sessions, "
          "alternating; both clients Python, bench/http_submit.py." % (fmt(s["messages"]), s["size"],
                                                                     s["threads"], s["threads"]))
        w("")
        w("| path | median msg/s | spread | runs |")
        w("|---|---:|---:|---|")
        for k, label in (("http", "HTTP"), ("smtp", "SMTP")):
            w("| %s | %s | %s | %s |" % (label, med(s[k]), spread(s[k]), ", ".join(fmt(x) for x in s[k]["runs"])))
        w("")
        w("HTTP / SMTP: **%s×** (reported)." % fmt(s["ratio"], 2))
        commands(s)

    def relay_table(points, key, label):
        w("| %s | outpostd msg/s | spread | Postfix msg/s | spread | ceiling msg/s | spread | vs Postfix | of ceiling |" % label)
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for p in points:
            x = size_label(p["size"]) if key == "size" else str(p[key])
            w("| %s | %s | %s | %s | %s | %s | %s | %s× | %.0f%% |" % (
                x, med(p["outpostd"]), spread(p["outpostd"]), med(p["postfix"]), spread(p["postfix"]),
                med(p["direct"]), spread(p["direct"]), fmt(p["vs_postfix"], 2), 100 * p["fraction_of_ceiling"]))
        w("")

    if "relay" in sc:
        s = sc["relay"]
        w("## Relay end to end")
        w("")
        w("smtp-source (%d sessions, %s messages of %d bytes) → relay → smtp-sink; a run's time is from the "
          "start of smtp-source until the sink has every message (bench/relay.sh, not modified by bench/run). "
          "The harness ceiling is smtp-source straight into smtp-sink." % (s["sessions"], fmt(s["messages"]), s["size"]))
        w("")
        relay_table([s], "sessions", "sessions")
        w("outpostd / Postfix: **%s×** (target ≥ 5×); outpostd / ceiling: **%.0f%%**." %
          (fmt(s["vs_postfix"], 2), 100 * s["fraction_of_ceiling"]))
        commands(s)
    if "relay_dkim" in sc:
        s = sc["relay_dkim"]
        w("## DKIM-signed relay")
        w("")
        w("The relay above (%d sessions, %s messages of %d bytes) with `dkim-sign yes` and an RSA-2048 key for the "
          "sender's domain, alternating with the unsigned relay in the same run (bench/relay.sh, PATHS=\"outpostd "
          "signed\"). Cores: outpostd's user + system CPU time over the run's time, on a %d-CPU machine. Signatures "
          "are made on the signing pool (`queue-processing-threads`, default one thread per core)."
          % (s["sessions"], fmt(s["messages"]), s["size"], s["cpus"]))
        w("")
        w("| path | msg/s | spread | outpostd cores | spread |")
        w("|---|---:|---:|---:|---:|")
        w("| unsigned | %s | %s | %s | %s |" % (med(s["unsigned"]), spread(s["unsigned"]), med(s["unsigned_cores"], 2),
                                             spread(s["unsigned_cores"], 2)))
        w("| signed (RSA-2048) | %s | %s | %s | %s |" % (med(s["signed"]), spread(s["signed"]), med(s["signed_cores"], 2),
                                                      spread(s["signed_cores"], 2)))
        w("")
        w("signed / unsigned: **%s×** (target ≥ 0.55× on 2 cores); outpostd while signing: **%s cores** (target > 1.5)."
          % (fmt(s["ratio"], 2), med(s["signed_cores"], 2)))
        commands(s)
    if "relay_sessions" in sc:
        s = sc["relay_sessions"]
        w("## Relay throughput as sessions grow")
        w("")
        w("Same paths as above, 4 KB messages; the number of messages grows with the sessions so that "
          "each run lasts seconds, not milliseconds.")
        w("")
        relay_table(s["points"], "sessions", "sessions")
        for f in s.get("failed_points", []):
            w("* **Point failed** (%d sessions, %s messages): `%s`" % (f["sessions"], fmt(f["messages"]), f["error"].splitlines()[0]))
        if any(os.path.basename(p) == "relay_sessions.png" for p in plots):
            w("![relay vs sessions](plots/relay_sessions.png)")
        commands(s)
    if "relay_sizes" in sc:
        s = sc["relay_sizes"]
        w("## Relay throughput as message size grows")
        w("")
        w("Same paths, 20 sessions; fewer messages for the big sizes (messages per point: %s)." %
          ", ".join("%s: %s" % (size_label(p["size"]), fmt(p["messages"])) for p in s["points"]))
        w("")
        relay_table(s["points"], "size", "size")
        for f in s.get("failed_points", []):
            w("* **Point failed** (%s, %s messages): `%s`" % (size_label(f["size"]), fmt(f["messages"]), f["error"].splitlines()[0]))
        if any(os.path.basename(p) == "relay_sizes.png" for p in plots):
            w("![relay vs size](plots/relay_sizes.png)")
        commands(s)
    if "rss" in sc:
        s = sc["rss"]
        w("## Memory per queued recipient")
        w("")
        w("bench/rss.sh (not modified by bench/run): a fresh outpostd per size, every domain routed to a "
          "loopback port that refuses, retry-after 1h, so every recipient stays queued; outpost-load injects "
          "100 recipients per 1 KB message over 10 domains. VmRSS after − before injection, divided by the "
          "recipients queued. Sizes up to 1M run %d time(s); 5M (when present) once: it takes minutes." % results["reps"])
        w("")
        w("| queued recipients | RSS growth (MiB) | B/recipient (VmRSS) | spread | B/recipient (RssAnon) | marginal B/recipient from the previous point |")
        w("|---:|---:|---:|---:|---:|---:|")
        for p in s["points"]:
            w("| %s | %s | **%s** | %s | %s | %s |" % (
                fmt(p["recipients"]), fmt(p["delta_bytes"]["median"] / 1048576, 1), med(p["b_per_rcpt"], 1),
                spread(p["b_per_rcpt"], 1), med(p["anon_b_per_rcpt"], 1),
                fmt(p.get("marginal_b_per_rcpt"), 1) if "marginal_b_per_rcpt" in p else "–"))
        w("")
        w("Growth is linear when the marginal cost (bytes per extra recipient between two sizes) does not "
          "rise with the size; at small sizes the fixed costs (arenas, queue objects) dominate the average.")
        w("")
        if any(os.path.basename(p) == "rss.png" for p in plots):
            w("![rss](plots/rss.png)")
        commands(s)
    if "recovery" in sc:
        s = sc["recovery"]
        w("## Time to recover (restart) with queued recipients")
        w("")
        w("bench/lib/recovery.py: outpostd's spool is filled with %s recipients (%s messages × %d, 1 KB), destination "
          "refusing (nothing delivered); outpostd is stopped, then started %d time(s) on that spool, timing from "
          "exec until the port file appears (written once the spool is recovered into the queues and the "
          "listener is bound). The log's \"recovered N messages (R recipients pending)\" line is checked. "
          "Spool on disk: %s MB; page cache warm (a restart, not a cold boot)." % (
              fmt(s["recipients"]), fmt(s["messages"]), s["rcpts_per_message"], len(s["runs"]),
              fmt(s["spool_bytes"] / 1e6, 1)))
        w("")
        w("| figure | median | spread |")
        w("|---|---:|---:|")
        w("| time to ready (s) | **%s** | %s |" % (med(s["ready_s"], 3), spread(s["ready_s"], 3)))
        w("| RSS after recovery (KiB) | %s | %s |" % (med(s["rss_kib"]), spread(s["rss_kib"])))
        w("| stop (SIGTERM → exit, s) | %s | %s |" % (med(s["stop_s"], 3), spread(s["stop_s"], 3)))
        w("| recovered (log) | %s messages, %s recipients | |" % (fmt(s["runs"][0]["recovered_messages"]),
                                                              fmt(s["runs"][0]["recovered_recipients"])))
        w("")
        w("Filling took %.1f s." % s["fill_s"])
        commands(s)
    if "compaction" in sc:
        s = sc["compaction"]
        w("## Injection while the spool compacts")
        w("")
        w("bench/compaction.py: a template spool is made once by outpostd with compaction off (%s messages of "
          "4 KB, 7 in 10 delivered to smtp-sink, 3 in 10 deferred for an hour): %s MB of segments holding %s MB "
          "of live entries. Each repetition copies it, starts outpostd on it with compaction on (threshold 50 %%, "
          "rate %s/s, no minimum age: every recovered segment qualifies at once) or off, alternating, and "
          "injects %s messages of 4 KB with smtp-source (20 sessions) at once, timing the injection." % (
              fmt(s["prep"]), fmt(s["template_bytes"] / 1e6, 1), fmt(s["template_live_bytes"] / 1e6, 1),
              s["rate"], fmt(s["messages"])))
        w("")
        w("| figure | median | spread |")
        w("|---|---:|---:|")
        w("| injection with compaction (msg/s) | **%s** | %s |" % (med(s["with"]), spread(s["with"])))
        w("| injection without (msg/s) | %s | %s |" % (med(s["without"]), spread(s["without"])))
        w("| ratio | **%s×** (target ≥ 0.8×) | |" % fmt(s["ratio"], 2))
        w("| bytes copied by compaction during the injection | %s MB | %s |" % (
            fmt(s["copied_during"]["median"] / 1e6, 1), spread(s["copied_during"])))
        w("")
        commands(s)
    if "exporter" in sc:
        s = sc["exporter"]
        w("## Exporter ingest")
        w("")
        w("bench/exporter/run.sh on %s (%s records, %s MB), page cache warm; one run of each contender per "
          "repetition." % (s["file"], fmt(s["records"]), fmt(s["bytes"] / 1e6)))
        w("")
        w("| contender | median records/s | spread | vs mtail |")
        w("|---|---:|---:|---:|")
        for k, label in (("mtail", "mtail --one_shot"), ("exporter", "outpost_exporter --oneshot (whole process)"),
                         ("ingest", "outpost_exporter ingest only"), ("wc", "wc -l (the floor)")):
            w("| %s | %s | %s | %s× |" % (label, med(s[k]), spread(s[k]), fmt(s[k]["median"] / s["mtail"]["median"], 1)))
        w("")
        w("outpost_exporter / mtail: **%s×** (target ≥ 20×); outpost_exporter / wc -l: **%.0f%%**. "
          "Max RSS of the --oneshot run: %s KiB." % (fmt(s["vs_mtail"], 1), 100 * s["fraction_of_wc"], fmt(s["max_rss_kib"])))
        sc_rows = [x for x in s["scrape"] if x[0]]
        if sc_rows:
            w("Scrape cost (50 scrapes): " + "; ".join("%s series: median %s ms, max %s ms" % (fmt(a), b, c)
                                                      for a, b, c, _ in sc_rows) + ".")
        commands(s)
    if "mgmt" in sc:
        s = sc["mgmt"]
        w("## Status API latency while relaying")
        w("")
        w("bench/mgmt/run.sh: outpost-load injects 4 KB messages over 20 sessions for %d s into outpostd, which "
          "relays to outpost-isp-sim on loopback; meanwhile wrk asks /status.json at about 200 requests/s "
          "(paced.lua)." % s["duration_s"])
        w("")
        w("| figure | median | spread |")
        w("|---|---:|---:|")
        for k, label, d in (("load_msgs_per_s", "relay during the measurement (msg/s injected)", 0),
                            ("requests_per_s", "/status.json requests/s", 0), ("p50_ms", "p50 (ms)", 2),
                            ("p90_ms", "p90 (ms)", 2), ("p99_ms", "**p99 (ms)**", 2), ("max_ms", "max (ms)", 1)):
            w("| %s | %s | %s |" % (label, med(s[k], d), spread(s[k], d)))
        commands(s)
    if "dkim" in sc:
        s = sc["dkim"]
        w("## DKIM signing")
        w("")
        w("bench/dkim/run.sh: outpost-dkim-bench (4 KB messages, the Signer API as the daemon uses it) vs "
          "`openssl speed` sign/s for the same key type, one thread, per second of user CPU time, %d s per "
          "round." % s["seconds"])
        w("")
        w("| key | outpost signs/s | spread | openssl speed signs/s | spread | fraction |")
        w("|---|---:|---:|---:|---:|---:|")
        for key, label in (("rsa2048", "RSA-2048"), ("ed25519", "Ed25519")):
            x = s[key]
            w("| %s | %s | %s | %s | %s | **%.0f%%** |" % (label, med(x["outpost"]), spread(x["outpost"]),
                                                          med(x["openssl"]), spread(x["openssl"]), 100 * x["fraction"]))
        commands(s)
    profiles = os.path.join(os.path.dirname(previous), "profiles.md") if previous else None
    if profiles and os.path.exists(profiles):
        # Hand-written: what the profiler showed and what was changed, with before/after figures.
        for line in open(profiles).read().splitlines():
            w(line)
        w("")
    if previous and os.path.exists(previous):
        w("## Previous measurements")
        w("")
        w("Recorded by hand in earlier issues, before bench/run existed (kept verbatim, headings demoted; "
          "bench/lib/previous_results.md).")
        w("")
        for line in open(previous).read().splitlines():
            if line.startswith("# "):
                continue
            w("#" + line if line.startswith("##") else line)
    with open(os.path.join(out, "RESULTS.md"), "w") as f:
        f.write("\n".join(L).rstrip() + "\n")
