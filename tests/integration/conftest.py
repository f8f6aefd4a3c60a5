"""pytest configuration: makes `harness` importable from every integration test, and prints the
log of every outpostd a failed test started (the daemon's side of the failure)."""
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import outpostd  # noqa: E402

_OWN_BASETEMP = None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Each pytest run keeps its temp dirs under a root of its own, not pytest's shared
    /tmp/pytest-of-USER. outpostd started as root runs as an unprivileged user and reaches its
    work directory through that path; every pytest that starts (CTest runs several at once)
    resets /tmp/pytest-of-USER to mode 0700, which cut a running daemon off its spool and config
    (EACCES: a spool commit answered 452 4.3.1, a reload was refused)."""
    global _OWN_BASETEMP
    if config.option.basetemp:
        return
    _OWN_BASETEMP = tempfile.mkdtemp(prefix="outpost-pytest-")
    os.chmod(_OWN_BASETEMP, 0o711)  # search only: the daemon's user passes, lists nothing
    config.option.basetemp = os.path.join(_OWN_BASETEMP, "t")


def pytest_unconfigure(config):
    if _OWN_BASETEMP:
        shutil.rmtree(_OWN_BASETEMP, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    outpostd.STARTED.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    # By now the test body has closed its daemons (close() kept each log's tail); a daemon
    # owned by a fixture still runs and its log is still on disk.
    for n, mta in enumerate(outpostd.STARTED):
        tail = mta.log_tail if mta.log_tail is not None else mta.log_text()[-6000:]
        report.sections.append((f"outpostd #{n} log (last 6000 bytes)", tail))
