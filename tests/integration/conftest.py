"""pytest configuration: makes `harness` importable from every integration test, and prints the
log of every outpostd a failed test started (the daemon's side of the failure)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import outpostd  # noqa: E402


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
