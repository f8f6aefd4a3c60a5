#!/usr/bin/env bash
# The compose stack in containers, end to end (opt-in: not part of scripts/test.sh, whose CI run
# would pass 45 minutes with a fresh image build; a cached run takes about a minute).
# Builds every image from Debian's packages (scripts/build-images.sh: debian:bookworm with
# mmdebstrap, Prometheus and Alertmanager from Debian's packages, outpost:local from
# deploy/Dockerfile), then runs tests/containers/ with pytest: docker-compose.yml started by
# Debian's docker-compose against `podman system service`, checked, and removed.
#   bash scripts/test-containers.sh            (as root; OUTPOST_REBUILD_IMAGES=1 remakes the base)
# Measured on a 2-core development machine: base image (mmdebstrap) 4.5 min, Prometheus and
# Alertmanager images 1.5 min, outpost:local 29 min with -j2 while other builds kept the load
# average near 11 (reported at about 6 min on idle cores); with every image cached, the whole
# script takes 1.5 min (compose up 12-17 s, the checks about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/tests/containers/containers.conf}"
start=$(date +%s)
bash scripts/build-images.sh
built=$(date +%s)
echo "test-containers: images ready in $((built - start)) s" >&2
cd tests/containers
status=0
OUTPOST_SOURCE="$PWD/../.." /usr/bin/python3 -m pytest -q -s -p no:cacheprovider . || status=$?
echo "test-containers: compose run took $(($(date +%s) - built)) s" >&2
exit $status
