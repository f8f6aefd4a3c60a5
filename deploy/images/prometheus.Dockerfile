# Prometheus from Debian's package (bookworm: 2.42.0, the version docker-compose.yml names),
# for machines without a container registry. Behaves like the upstream image where the compose
# file relies on it: the entrypoint is the server, arguments come from `command:`, it runs as
# nobody with its data in /prometheus.
#   podman build -f deploy/images/prometheus.Dockerfile -t docker.io/prom/prometheus:v2.42.0 deploy/images
FROM debian:bookworm
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus /etc/prometheus \
 && chown nobody:nogroup /prometheus
USER nobody
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
