"""A pytest plugin that fails a test during which a sanitizer wrote a report.

Sanitized daemons run in the background: a report (and the daemon's exit with the sanitizer's
exitcode) is otherwise noticed only if the test happens to need the daemon afterwards, and the
harness kills daemons with SIGKILL without looking at their stderr. So the sanitizer writes its
reports to files instead (TSAN_OPTIONS / ASAN_OPTIONS `log_path=DIR/NAME`: one file per process,
NAME.PID), and this plugin fails every test during which a new file appeared, showing it.

Use: OUTPOST_SANITIZER_LOG_DIR=DIR, the sanitizer's log_path under DIR, and
`PYTEST_ADDOPTS="-p harness.sanitizer_reports"` with tests/integration on PYTHONPATH (scripts/test.sh
does this for the TSan integration subset). Without OUTPOST_SANITIZER_LOG_DIR it does nothing.
Reports written after the last test's teardown (module fixtures) are caught by the caller, which
checks that DIR is empty at the end.
"""
import os

import pytest


def _reports(d):
    try:
        return set(os.listdir(d))
    except OSError:
        return set()


def _show(d, names):
    parts = []
    for n in sorted(names):
        try:
            with open(os.path.join(d, n), errors="replace") as f:
                text = f.read()
        except OSError as e:
            text = str(e)
        parts.append("==== %s ====\n%s" % (n, text[:20000]))
    return "\n".join(parts)


@pytest.fixture(autouse=True)
def _fail_on_sanitizer_report():
    d = os.environ.get("OUTPOST_SANITIZER_LOG_DIR")
    if not d:
        yield
        return
    before = _reports(d)
    yield
    new = _reports(d) - before
    if new:
        pytest.fail("sanitizer report(s) during this test:\n" + _show(d, new), pytrace=False)
