"""What a container run of docker-compose.yml depends on, checked without containers (the run
itself is opt-in: scripts/test-containers.sh):
* the load service's command line, exactly as the compose file writes it (`--flag=VALUE`), is
  accepted by the real outpost-load, which delivers mail with it;
* outpostd's `nofile` and `nproc` are ones this host's hard limits grant;
* the Dockerfile builds outpostctl with the other programs and without the test suites (so
  without python3), and no "|| true" hides a missing program;
* .dockerignore keeps local build trees out of the build context but not what the Dockerfile
  copies;
* the images built from Debian's packages for registry-less machines (deploy/images/) carry the
  tags the compose file names, and those tags are the versions Debian packages.
"""
import fnmatch
import glob
import os
import re
import resource
import subprocess

import yaml

from harness.isp_sim import IspSim

SOURCE = os.environ.get("OUTPOST_SOURCE",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
BIN = os.environ.get("OUTPOST_BIN", os.path.join(SOURCE, "build/bin"))


def compose():
    with open(os.path.join(SOURCE, "docker-compose.yml")) as f:
        return yaml.safe_load(f)


def test_compose_load_command_is_accepted_by_outpost_load(tmp_path):
    command = compose()["services"]["load"]["command"]
    assert command[0] == "outpost-load"
    args = command[1:]
    assert any(re.match(r"--\w[\w-]*=", a) for a in args), "the compose file's form"
    sim = IspSim(tmp_path / "sim", "<domain *> accept </domain>\n").start()
    try:
        # The compose file's flags unchanged but two: the target is this test's simulator, and
        # the 24 h duration becomes a message count so the run ends by itself.
        args = [a for a in args if not a.startswith("--duration=") and a != "outpostd:2525"]
        assert len(args) == len(command) - 3
        r = subprocess.run([os.path.join(BIN, "outpost-load"), *args, "--messages=20",
                            f"127.0.0.1:{sim.port}"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert sim.stats()["totals"]["messages"] == 20
    finally:
        sim.stop()


def test_compose_ulimits_are_grantable_here():
    ulimits = compose()["services"]["outpostd"]["ulimits"]
    # nproc too: podman sets its own (too high) default for any limit not given with nofile.
    assert set(ulimits) == {"nofile", "nproc"}
    for name, which in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        limits = ulimits[name]
        assert limits["soft"] == limits["hard"]
        hard_here = resource.getrlimit(which)[1]
        assert hard_here == resource.RLIM_INFINITY or limits["hard"] <= hard_here, (
            f"docker-compose.yml asks {name} {limits['hard']}, this host's hard limit is "
            f"{hard_here}")
    # Enough for the demo's connections with room (max-smtp-out 10 per queue, a few queues).
    assert ulimits["nofile"]["soft"] >= 4096


def test_dockerfile_builds_every_program_without_the_tests():
    with open(os.path.join(SOURCE, "deploy", "Dockerfile")) as f:
        text = f.read()
    build = re.search(r"--target ([^\\\n]+(?:\\\n[^\\\n]+)*)", text).group(1)
    targets = set(build.replace("\\", " ").split())
    assert {"outpostd", "outpostctl", "outpost_exporter", "outpost-isp-sim",
            "outpost-load"} <= targets
    assert "-DBUILD_TESTING=OFF" in text
    assert "|| true" not in text
    build_stage = re.search(r"FROM debian:bookworm AS build(.*?)\nFROM ", text, re.S).group(1)
    assert "python3" not in re.sub(r"^#.*$", "", build_stage, flags=re.M)
    with open(os.path.join(SOURCE, "cmake", "OutpostTesting.cmake")) as f:
        assert re.search(r"if\(NOT OUTPOST_PYTHON AND BUILD_TESTING\)", f.read())


def test_dockerignore_excludes_build_trees_but_not_the_sources():
    with open(os.path.join(SOURCE, ".dockerignore")) as f:
        patterns = [line.strip() for line in f if line.strip() and not line.startswith("#")]

    def ignored(path):
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        return any(fnmatch.fnmatch(prefix, p) for p in patterns for prefix in prefixes)
    for path in ("build/bin/outpostd", "build-asan/CMakeCache.txt", "build-tsan/x", ".run/stack",
                 ".git/HEAD", "docs/config.md", "tests/integration/test_deploy_files.py"):
        assert ignored(path), path
    # What the build reads: every CMakeLists.txt it adds, the sources, what the Dockerfile copies.
    with open(os.path.join(SOURCE, "deploy", "Dockerfile")) as f:
        copied = re.findall(r"^COPY (?!--from)(\S+) ", f.read(), re.M)
    assert "etc/outpost.conf.example" in copied
    needed = copied[1:] + ["CMakeLists.txt", "CMakePresets.json", "cmake/OutpostTesting.cmake",
                           "mta/outpostd/main.cpp", "tools/load/main.cpp", "common/CMakeLists.txt",
                           "exporter/CMakeLists.txt", "tests/CMakeLists.txt",
                           "tests/data/CMakeLists.txt", "tests/unit/tools/CMakeLists.txt"]
    # Files a CMakeLists.txt names through ${PROJECT_SOURCE_DIR} (e.g. bench/dkim/dkim_bench.cpp).
    for cmake in glob.glob(os.path.join(SOURCE, "**", "CMakeLists.txt"), recursive=True):
        if os.path.relpath(cmake, SOURCE).split(os.sep)[0].startswith("build"):
            continue
        with open(cmake) as f:
            needed += [p for p in re.findall(r"\$\{PROJECT_SOURCE_DIR\}/([\w./-]+)", f.read())
                       if not ignored(os.path.relpath(cmake, SOURCE))]
    assert "bench/dkim/dkim_bench.cpp" in needed
    for path in needed:
        assert os.path.exists(os.path.join(SOURCE, path)), path
        assert not ignored(path), path


def test_debian_built_monitoring_images_carry_the_compose_tags():
    services = compose()["services"]
    for name, package_binary in (("prometheus", "prometheus"),
                                 ("alertmanager", "prometheus-alertmanager")):
        image = services[name]["image"]
        repo, tag = image.rsplit(":", 1)
        with open(os.path.join(SOURCE, "deploy", "images", f"{name}.Dockerfile")) as f:
            text = f.read()
        assert f"-t docker.io/{image} " in text, f"{name}.Dockerfile's build line names {image}"
        assert re.search(r"^FROM debian:bookworm$", text, re.M)
        assert "install -y -q --no-install-recommends" in text
        # Debian's package (installed by scripts/install-deps.sh) is the version of the tag.
        r = subprocess.run([package_binary, "--version"], capture_output=True, text=True)
        version = re.search(r"version (\d+\.\d+\.\d+)", r.stdout + r.stderr).group(1)
        assert tag == f"v{version}", f"{image}: Debian has {version}"
        with open(os.path.join(SOURCE, "scripts", "build-images.sh")) as f:
            assert f"{repo.split('/')[-1]}:{tag}" in f.read()
    assert "grafana" in services  # kept for engines that can pull it
