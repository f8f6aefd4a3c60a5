#!/usr/bin/env bash
# Builds every image docker-compose.yml runs, with podman, from Debian's packages only (no
# container registry needed):
#   debian:bookworm, debian:bookworm-slim  mmdebstrap from the host's Debian mirror (the host's
#                                          /etc/apt sources), imported with `podman import`
#   prom/prometheus:v2.42.0,               deploy/images/*.Dockerfile: Debian's packages of the
#   prom/alertmanager:v0.25.0              same versions, FROM that base
#   outpost:local                          deploy/Dockerfile
# Grafana is not packaged in Debian: it is not built (docker-compose.yml keeps it for engines
# that can pull it).
#
# Images already present are kept (the base image takes minutes to make); OUTPOST_REBUILD_IMAGES=1
# makes them again. outpost:local is rebuilt every time (podman's layer cache makes an unchanged
# tree quick). OUTPOST_IMAGE_JOBS (default 2) caps the compile jobs of the outpost build.
# Runs as root; podman is configured by tests/containers/containers.conf (CONTAINERS_CONF), the
# host's containers configuration is not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh containers
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/tests/containers/containers.conf}"
rebuild="${OUTPOST_REBUILD_IMAGES:-0}"
jobs="${OUTPOST_IMAGE_JOBS:-2}"

have() { [ "$rebuild" != 1 ] && podman image exists "$1"; }
stamp() { date +%s; }

t0=$(stamp)
if ! have docker.io/library/debian:bookworm || ! have docker.io/library/debian:bookworm-slim; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "build-images: debian:bookworm with mmdebstrap (a few minutes)" >&2
  # The host's apt sources (deb822 or one-line), so the image uses the same mirror.
  sources=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$sources" ] || sources=$(grep -h '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  [ -n "$sources" ] || { echo "build-images: no apt sources found under /etc/apt" >&2; exit 1; }
  printf '%s\n' "$sources" | mmdebstrap --variant=minbase bookworm "$tmp/base.tar" -
  podman import --change 'CMD ["/bin/bash"]' "$tmp/base.tar" docker.io/library/debian:bookworm
  # The slim variant differs only by the documentation it leaves out: the same image serves.
  podman tag docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim
  rm -f "$tmp/base.tar"
fi
t1=$(stamp)
for spec in prometheus:v2.42.0 alertmanager:v0.25.0; do
  name=${spec%%:*}
  if ! have "docker.io/prom/$spec"; then
    echo "build-images: prom/$spec from Debian's package" >&2
    podman build --network=host -f "deploy/images/$name.Dockerfile" -t "docker.io/prom/$spec" \
      deploy/images
  fi
done
t2=$(stamp)
echo "build-images: outpost:local (deploy/Dockerfile, -j$jobs)" >&2
podman build --network=host --build-arg "JOBS=$jobs" -f deploy/Dockerfile \
  -t localhost/outpost:local .
t3=$(stamp)
echo "build-images: base $((t1 - t0)) s, prometheus+alertmanager $((t2 - t1)) s," \
  "outpost $((t3 - t2)) s" >&2
