"""Project-wide pytest hooks.

A skipped test fails the run: pytest-odoo skips every ``HttpCase`` without
``--odoo-http`` and Odoo skips browser tours without ``websocket-client`` or
Chromium, and such a run must not look green. Set
``REBILLING_ALLOW_SKIPS=1`` to allow skips in a local run.
"""

import os

_SKIPPED = []


def pytest_runtest_logreport(report):
    if report.skipped:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        _SKIPPED.append((report.nodeid, str(reason)))


def pytest_sessionfinish(session, exitstatus):
    if _SKIPPED and not os.environ.get("REBILLING_ALLOW_SKIPS") and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _SKIPPED and not os.environ.get("REBILLING_ALLOW_SKIPS"):
        terminalreporter.section("skipped tests fail this run")
        for nodeid, reason in _SKIPPED:
            terminalreporter.line(f"SKIPPED {nodeid}: {reason}")
        terminalreporter.line(
            "A skip means missing test infrastructure (Chromium, websocket-client, "
            "--odoo-http). Install it (python3 setup/install.py) or set REBILLING_ALLOW_SKIPS=1."
        )
