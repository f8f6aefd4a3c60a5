# Alertmanager from Debian's package (bookworm: 0.25.0, the version docker-compose.yml names),
# for machines without a container registry. Like the upstream image: the entrypoint is the
# server, arguments come from `command:`, it runs as nobody with its data in /alertmanager.
#   podman build -f deploy/images/alertmanager.Dockerfile -t docker.io/prom/alertmanager:v0.25.0 deploy/images
FROM debian:bookworm
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      prometheus-alertmanager \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /alertmanager /etc/alertmanager \
 && chown nobody:nogroup /alertmanager
USER nobody
WORKDIR /alertmanager
EXPOSE 9093
ENTRYPOINT ["/usr/bin/prometheus-alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
