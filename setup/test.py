#!/usr/bin/env python3
"""The test command: lint, a fresh test database, every rebilling addon, all tests.

    python3 setup/test.py                 # everything
    python3 setup/test.py -k billing      # extra arguments go to pytest
    python3 setup/test.py --reuse-db      # skip the database rebuild (local iterations)
    python3 setup/test.py --no-lint       # skip the code quality gate

It exits non-zero on any lint finding, any failed test, and any test skipped
for missing infrastructure (see conftest.py): a green run really ran the
browser tours.
"""

import argparse
import os
import subprocess
import sys
import time

from common import (
    ADDONS,
    ROOT,
    add_odoo_argument,
    drop_database,
    fail,
    prepare,
    run,
    say,
    write_config,
)

TEST_DB = os.environ.get("REBILLING_TEST_DB", "rebilling_test")
TEST_HTTP_PORT = os.environ.get("REBILLING_TEST_HTTP_PORT", "8169")
# A subset of addons for local iterations (comma-separated); CI installs them all.
TEST_ADDONS = [a for a in os.environ.get("REBILLING_TEST_ADDONS", "").split(",") if a] or ADDONS
# Odoo modules installed next to ours in the test database.
EXTRA_MODULES = ["l10n_au"]
AU_BOOTSTRAP = """
company = env.ref("base.main_company")
company.write({"country_id": env.ref("base.au").id, "currency_id": env.ref("base.AUD").id})
env["account.chart.template"].try_loading("au", company=company, install_demo=False)
env.cr.commit()
"""


def lint():
    say("code quality: ruff check, ruff format --check, pylint-odoo, README.rst up to date")
    paths = [*ADDONS, "setup", "tests", "bench", "conftest.py"]
    paths = [p for p in paths if (ROOT / p).exists()]
    run([sys.executable, "-m", "ruff", "check", *paths], cwd=ROOT)
    run([sys.executable, "-m", "ruff", "format", "--check", *paths], cwd=ROOT)
    run(
        [sys.executable, "-m", "pylint", "--rcfile", str(ROOT / ".pylintrc"), *ADDONS],
        cwd=ROOT,
    )
    # Each addon's README.rst is rendered from its readme/*.md (python3 setup/readme.py).
    run([sys.executable, str(ROOT / "setup" / "readme.py"), "--check"], cwd=ROOT)


def build_database(config):
    from common import odoo_server_script

    drop_database(TEST_DB)
    started = time.monotonic()
    run(
        [
            *odoo_server_script(),
            "-c",
            str(config),
            "-d",
            TEST_DB,
            "-i",
            ",".join(EXTRA_MODULES + TEST_ADDONS),
            "--stop-after-init",
            "--log-level=warn",
        ],
        cwd=ROOT,
    )
    # The tests bill from the main company as an Australian reseller (AUD, GST).
    subprocess.run(
        [*odoo_server_script(), "shell", "-c", str(config), "-d", TEST_DB, "--no-http"],
        input=AU_BOOTSTRAP,
        text=True,
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    say(f"test database {TEST_DB} built in {time.monotonic() - started:.0f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse-db", action="store_true", help="keep the existing test database")
    parser.add_argument("--no-lint", action="store_true", help="skip ruff and pylint-odoo")
    add_odoo_argument(parser)
    args, pytest_args = parser.parse_known_args()

    prepare(odoo_source=args.odoo)
    started = time.monotonic()
    try:
        if not args.no_lint:
            lint()
        config = write_config(TEST_DB, http_port=TEST_HTTP_PORT, log_level="warn")
        if not args.reuse_db:
            build_database(config)
    except subprocess.CalledProcessError as exc:
        fail(f"{exc.cmd[2] if len(exc.cmd) > 2 else exc.cmd} failed (exit {exc.returncode})")

    # Without explicit paths, every addon's tests and the cross-module ones (these need
    # every addon: a subset of REBILLING_TEST_ADDONS runs its addons' tests only).
    given = [a for a in pytest_args if not a.startswith("-") and (ROOT / a.split("::")[0]).exists()]
    targets = [str(ROOT / a) for a in TEST_ADDONS]
    if set(TEST_ADDONS) >= set(ADDONS):
        targets.append(str(ROOT / "tests"))
    targets = [] if given else targets
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        f"--odoo-config={config}",
        f"--odoo-database={TEST_DB}",
        "--odoo-http",
        "-p",
        "no:cacheprovider",
        "-rfEs",
        *pytest_args,
        *targets,
    ]
    say("$ " + " ".join(cmd))
    code = subprocess.run(cmd, cwd=ROOT, check=False).returncode
    say(f"test command finished in {time.monotonic() - started:.0f} s with exit {code}")
    sys.exit(code)


if __name__ == "__main__":
    main()
