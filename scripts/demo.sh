#!/usr/bin/env bash
# The main job: builds Outpost if needed, then starts the whole stack on loopback and drives a
# workload in which one provider (the simulated Gmail) defers, so the deferral alert fires:
#   outpost-isp-sim (scripted receiving MX) <- outpostd <- outpost-load
#   outpost_exporter (accounting + status) -> Prometheus (rules) -> Alertmanager -> webhook (printed)
# Ports (loopback): SMTP 2525, management API + web console 8080, exporter 9469, Prometheus 9090,
# Alertmanager 9093; a port in use is reported as an error (pass e.g. --prometheus-port 0 for any
# free port). Data and logs: .run/stack/. Options: python3 scripts/stack.py --help.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh default
# Debian's python3 (python3-yaml), not whatever python3 comes first on PATH.
exec /usr/bin/python3 scripts/stack.py "$@"
