#!/usr/bin/env bash
# Installs every Debian package that Outpost's build, tests and demo need. Idempotent: when all
# packages are already present it changes nothing and makes no network request.
#   bash scripts/install-deps.sh              the build, the test suite, the demo
#   bash scripts/install-deps.sh containers   those and the container run (scripts/test-containers.sh)
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ pkg-config clang-format
  libasio-dev libssl-dev libc-ares-dev libcpp-httplib-dev nlohmann-json3-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  # tests and demo: real peers
  python3 python3-pytest python3-dkim python3-nacl libmail-dkim-perl swaks libnet-ssleay-perl libio-socket-ssl-perl postfix curl openssl dnsmasq-base procps iproute2 prometheus mtail
  strace  # counts outpostd's fdatasync calls (test_spool_sync.py)
  # monitoring stack: Alertmanager + amtool (demo, e2e test), docker-compose (validates the compose file)
  prometheus-alertmanager docker-compose python3-yaml
  # management plane: console test (headless Chromium), API benchmark, schema check
  chromium wrk python3-jsonschema
  # benchmark harness (bench/run): plots
  gnuplot-nox
  # fuzzing (scripts/fuzz.sh): clang, and libFuzzer + ASan/UBSan runtimes (only Recommended by clang)
  clang libclang-rt-14-dev
)
if [ "${1:-}" = containers ]; then
  # The compose stack in containers without a registry (scripts/build-images.sh,
  # scripts/test-containers.sh): podman with runc (crun cannot set up cgroups on our machines)
  # and netavark/aardvark-dns (service names resolve between containers), mmdebstrap for the
  # Debian base image. docker-compose (above) drives podman's Docker-compatible socket.
  PACKAGES+=(podman runc netavark aardvark-dns iptables mmdebstrap)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
# Postfix is only a peer for tests and benchmarks (smtp-source, smtp-sink, its own queue): install it
# unconfigured so it never starts listening on port 25 by itself.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
