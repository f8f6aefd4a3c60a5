"""deploy/kubernetes/ checked offline: no cluster, no API server.

`kubectl --dry-run=client` cannot do it here: it still asks an API server for the resource types
(discovery) and the OpenAPI schema, and Debian's kubernetes-client (1.20) is no different. So
these tests check what a dry run would, and what it would not:
* every manifest parses, has apiVersion/kind/metadata.name of a known type, DNS-1123 names, and
  kustomization.yaml lists every manifest (the example Secrets excepted);
* the references hold: selectors match the pod's labels, named ports exist, every mount has its
  volume, every ConfigMap/Secret a pod uses is defined with the keys the configuration names;
* the configuration in the ConfigMap is one outpostd accepts (`outpostd --check-config`, with the
  DKIM key and TLS files made by openssl in a temp dir), and the pod's wiring agrees with it (ports,
  accounting path the sidecar tails, readiness on outpostd's /ready);
* the PrometheusRule carries alert-rules/outpost.rules.yml unchanged (generate.py --check),
  promtool accepts its rules, and the PodMonitor gives the job and instance labels the rules and
  dashboards select on.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

SOURCE = os.environ.get("OUTPOST_SOURCE",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
K8S = os.path.join(SOURCE, "deploy", "kubernetes")
BIN = os.environ.get("OUTPOST_BIN", os.path.join(SOURCE, "build/bin"))

KNOWN_KINDS = {
    "ConfigMap": "v1", "Secret": "v1", "Service": "v1", "StatefulSet": "apps/v1",
    "PodMonitor": "monitoring.coreos.com/v1", "PrometheusRule": "monitoring.coreos.com/v1",
}
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G)?$")


def load(name):
    with open(os.path.join(K8S, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def manifests():
    """{file name: [documents]} for every .yaml except kustomization.yaml."""
    return {os.path.basename(p): load(os.path.basename(p))
            for p in sorted(glob.glob(os.path.join(K8S, "*.yaml")))
            if os.path.basename(p) != "kustomization.yaml"}


def objects():
    return {(d["kind"], d["metadata"]["name"]): d for docs in manifests().values() for d in docs}


def one(kind, name="outpost"):
    return objects()[(kind, name)]


def pod_spec():
    return one("StatefulSet")["spec"]["template"]["spec"]


def container(name):
    return next(c for c in pod_spec()["containers"] if c["name"] == name)


def config_text():
    return one("ConfigMap", "outpost-config")["data"]["outpost.conf"]


def directive(name):
    """Values of a top-level directive of the ConfigMap's outpost.conf."""
    return re.findall(rf"^{re.escape(name)}\s+(\S+)", config_text(), re.M)


# ---- structure ------------------------------------------------------------------------------

def test_every_manifest_is_a_known_well_formed_object():
    seen = set()
    for name, docs in manifests().items():
        assert docs, f"{name} is empty"
        for d in docs:
            kind = d.get("kind")
            assert kind in KNOWN_KINDS, f"{name}: unexpected kind {kind}"
            assert d.get("apiVersion") == KNOWN_KINDS[kind], f"{name}: {kind} apiVersion"
            meta = d["metadata"]
            assert DNS1123.match(meta["name"]), f"{name}: name {meta['name']}"
            assert "namespace" not in meta, f"{name}: namespace is chosen at apply time"
            assert meta.get("labels", {}).get("app.kubernetes.io/name") == "outpost"
            assert (kind, meta["name"]) not in seen, f"{name}: {kind}/{meta['name']} twice"
            seen.add((kind, meta["name"]))


def test_kustomization_lists_every_manifest_but_the_example_secrets():
    with open(os.path.join(K8S, "kustomization.yaml")) as f:
        kust = yaml.safe_load(f)
    assert kust["kind"] == "Kustomization"
    want = set(manifests()) - {"secrets.example.yaml"}
    assert set(kust["resources"]) == want
    for d in load("secrets.example.yaml"):
        assert d["kind"] == "Secret"


def test_statefulset_shape():
    sts = one("StatefulSet")
    spec = sts["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    # The governing Service is headless and defined here.
    headless = one("Service", spec["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    pod = pod_spec()
    assert {c["name"] for c in pod["containers"]} == {"outpostd", "exporter"}
    claims = {t["metadata"]["name"] for t in spec["volumeClaimTemplates"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert not claims & set(volumes)
    for c in pod["containers"]:
        assert c["image"] and c["command"], c["name"]
        for port in c.get("ports", []):
            assert isinstance(port["containerPort"], int) and DNS1123.match(port["name"])
        for m in c["volumeMounts"]:
            assert m["name"] in claims or m["name"] in volumes, f"{c['name']}: {m['name']}"
            assert m["mountPath"].startswith("/")
        # Requests from measured figures; a memory limit on each.
        res = c["resources"]
        for key in ("cpu", "memory"):
            assert QUANTITY.match(str(res["requests"][key])), f"{c['name']} {key}"
        assert QUANTITY.match(str(res["limits"]["memory"]))
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe in c:
                port = c[probe]["httpGet"]["port"]
                assert port in {p["name"] for p in c["ports"]}, f"{c['name']} {probe}"
    # The image's user (deploy/Dockerfile) is the one the pod runs as and owns the volumes.
    with open(os.path.join(SOURCE, "deploy", "Dockerfile")) as f:
        uid = re.search(r"useradd --system --uid (\d+)", f.read()).group(1)
    sc = pod["securityContext"]
    assert str(sc["runAsUser"]) == uid and str(sc["fsGroup"]) == uid and sc["runAsNonRoot"]


def test_spool_and_accounting_are_persistent_and_the_sidecar_shares_the_accounting():
    spec = one("StatefulSet")["spec"]
    claims = {t["metadata"]["name"]: t for t in spec["volumeClaimTemplates"]}
    mounts = {c["name"]: {m["mountPath"]: m for m in c["volumeMounts"]}
              for c in pod_spec()["containers"]}
    spool_dir = directive("spool")[0]
    assert mounts["outpostd"][spool_dir]["name"] in claims
    acct_file = re.search(r"^<acct-file (\S+)>", config_text(), re.M).group(1)
    acct_dir = os.path.dirname(acct_file)
    daemon_acct = mounts["outpostd"][acct_dir]
    sidecar_acct = mounts["exporter"][acct_dir]
    assert daemon_acct["name"] in claims and not daemon_acct.get("readOnly")
    assert (sidecar_acct["name"], sidecar_acct.get("subPath")) == \
        (daemon_acct["name"], daemon_acct.get("subPath"))
    assert sidecar_acct["readOnly"] is True
    args = dict(a[2:].split("=", 1) for a in container("exporter")["command"][1:])
    assert glob_matches(args["acct-path"], acct_file)
    # The sidecar's resume state is persistent too (exactly-once across restarts), writable.
    state_dir = os.path.dirname(args["state-file"])
    assert mounts["exporter"][state_dir]["name"] in claims
    assert not mounts["exporter"][state_dir].get("readOnly")


def glob_matches(pattern, path):
    import fnmatch
    return fnmatch.fnmatch(path, pattern)


def test_ports_and_probes_agree_with_the_configuration():
    ports = {p["name"]: p["containerPort"] for p in container("outpostd")["ports"]}
    smtp = directive("smtp-listener")[0]
    assert int(smtp.rsplit(":", 1)[1]) == ports["smtp"]
    assert int(directive("http-mgmt-port")[0].rsplit(":", 1)[-1]) == ports["http"]
    d = container("outpostd")
    # docs/status-api.md: /ready is the readiness flag, /health liveness.
    assert d["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert d["livenessProbe"]["httpGet"]["path"] == "/health"
    assert d["startupProbe"]["httpGet"]["path"] == "/health"
    # The kubelet probes from outside the pod: the API must give it at least monitor.
    assert re.search(r"^http-access 0/0 monitor$", config_text(), re.M)
    args = dict(a[2:].split("=", 1) for a in container("exporter")["command"][1:])
    assert args["status-url"] == f"http://127.0.0.1:{ports['http']}/status.json"
    metrics = {p["name"]: p["containerPort"] for p in container("exporter")["ports"]}
    assert args["listen"].endswith(f":{metrics['metrics']}")


def test_services_select_the_pods_and_name_existing_ports():
    labels = one("StatefulSet")["spec"]["template"]["metadata"]["labels"]
    port_names = {p["name"] for c in pod_spec()["containers"] for p in c.get("ports", [])}
    services = [d for (kind, _), d in objects().items() if kind == "Service"]
    assert len(services) == 2
    for svc in services:
        assert svc["spec"]["selector"].items() <= labels.items()
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in port_names, f"{svc['metadata']['name']}: {p}"
    smtp = one("Service")["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in smtp] == [(25, "smtp")]


def test_config_and_secrets_are_mounted_from_defined_objects_with_the_named_keys():
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container("outpostd")["volumeMounts"]}
    example_secrets = {d["metadata"]["name"]: d for d in load("secrets.example.yaml")}
    # The command's config file is in the ConfigMap's mount.
    conf_path = container("outpostd")["command"][-1]
    assert volumes["config"]["configMap"]["name"] == "outpost-config"
    assert conf_path == os.path.join(mounts["config"], "outpost.conf")
    # Every domain-key file is a key of the DKIM Secret at its mount.
    for line in directive("domain-key"):
        _, _, keyfile = line.split(",")
        assert os.path.dirname(keyfile) == mounts["dkim"]
        secret = example_secrets[volumes["dkim"]["secret"]["secretName"]]
        assert os.path.basename(keyfile) in secret["stringData"]
    tls = example_secrets[volumes["tls"]["secret"]["secretName"]]
    assert tls["type"] == "kubernetes.io/tls"
    for name in ("smtp-server-tls-certificate", "smtp-server-tls-private-key"):
        path = directive(name)[0]
        assert os.path.dirname(path) == mounts["tls"]
        assert os.path.basename(path) in tls["stringData"]
    # No real key material in the repository.
    for d in example_secrets.values():
        for value in d["stringData"].values():
            assert re.search(r"^\s*\(.*\)\s*$", value, re.M), "a placeholder, not a key"


def test_configmap_configuration_passes_check_config(tmp_path):
    """outpostd --check-config on the ConfigMap's outpost.conf, its absolute paths moved into a
    temp dir holding a real DKIM key and certificate made by openssl."""
    text = config_text()
    for prefix in ("/etc/outpost/", "/var/spool/outpost", "/var/log/outpost/"):
        text = text.replace(prefix, str(tmp_path) + prefix)
    (tmp_path / "etc/outpost/dkim").mkdir(parents=True)
    (tmp_path / "etc/outpost/tls").mkdir(parents=True)
    (tmp_path / "var/log/outpost").mkdir(parents=True)
    for line in directive("domain-key"):
        keyfile = str(tmp_path) + line.split(",")[2]
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", keyfile], check=True,
                       capture_output=True)
    tls = tmp_path / "etc/outpost/tls"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=mta.example.com", "-keyout", str(tls / "tls.key"),
                    "-out", str(tls / "tls.crt")], check=True, capture_output=True)
    conf = tmp_path / "outpost.conf"
    conf.write_text(text)
    r = subprocess.run([os.path.join(BIN, "outpostd"), "--check-config", str(conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    # And the check is real: a key file that is missing is refused.
    os.unlink(str(tmp_path) + directive("domain-key")[0].split(",")[2])
    r = subprocess.run([os.path.join(BIN, "outpostd"), "--check-config", str(conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0


# ---- monitoring -------------------------------------------------------------------------------

def test_prometheusrule_carries_alert_rules_unchanged(tmp_path):
    with open(os.path.join(SOURCE, "alert-rules", "outpost.rules.yml")) as f:
        rules = yaml.safe_load(f)
    assert one("PrometheusRule")["spec"] == rules
    r = subprocess.run([sys.executable, os.path.join(K8S, "generate.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # What the operator hands Prometheus is a valid rules file.
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed (bash scripts/install-deps.sh)"
    extracted = tmp_path / "rules.yml"
    extracted.write_text(yaml.safe_dump(one("PrometheusRule")["spec"]))
    r = subprocess.run([promtool, "check", "rules", str(extracted)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_generate_check_notices_a_rule_change(tmp_path):
    """The in-step check is not vacuous: generate.py --check on a copy whose rules changed."""
    tree = tmp_path / "src"
    shutil.copytree(os.path.join(SOURCE, "alert-rules"), tree / "alert-rules")
    shutil.copytree(K8S, tree / "deploy" / "kubernetes")
    gen = str(tree / "deploy" / "kubernetes" / "generate.py")
    assert subprocess.run([sys.executable, gen, "--check"]).returncode == 0
    with open(tree / "alert-rules" / "outpost.rules.yml", "a") as f:
        f.write("      - record: outpost:extra\n        expr: vector(1)\n")
    assert subprocess.run([sys.executable, gen, "--check"], capture_output=True).returncode == 1
    assert subprocess.run([sys.executable, gen]).returncode == 0
    assert subprocess.run([sys.executable, gen, "--check"]).returncode == 0


def test_podmonitor_scrapes_the_sidecar_as_job_outpost_per_pod():
    pm = one("PodMonitor")["spec"]
    labels = one("StatefulSet")["spec"]["template"]["metadata"]["labels"]
    assert pm["selector"]["matchLabels"].items() <= labels.items()
    (endpoint,) = pm["podMetricsEndpoints"]
    assert endpoint["port"] in {p["name"] for p in container("exporter")["ports"]}
    relabel = {r["targetLabel"]: r for r in endpoint["relabelings"]}
    assert relabel["job"]["replacement"] == "outpost"
    assert relabel["instance"]["sourceLabels"] == ["__meta_kubernetes_pod_name"]
    # The rules select job="outpost" (the same name the relabeling gives).
    with open(os.path.join(SOURCE, "alert-rules", "outpost.rules.yml")) as f:
        assert 'job="outpost"' in f.read()


@pytest.mark.parametrize("name", sorted(glob.glob(os.path.join(K8S, "*.yaml"))))
def test_manifest_has_no_tabs_and_no_host_paths(name):
    with open(name) as f:
        text = f.read()
    assert "\t" not in text
    # Nothing from the node's disk and no path outside the repository (a parent directory).
    assert "hostPath" not in text and "../" not in text
