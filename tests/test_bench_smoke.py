"""Every bench of bench/ at a tiny size: a run that must finish, its figures not asserted.

A bench no one runs breaks unseen (bench/review.py stopped on an AccessError once
least privilege refused its direct write). Each bench runs as a subprocess, as a
developer runs it, with ``--smoke`` (its tiny sizes) or small command-line sizes,
on a database of its own: a copy of the test database (every addon installed, the
Australian chart), dropped afterwards. ``REBILLING_BENCH_SMOKE_JOBS`` benches run at once
(default 2).
"""

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.bench_support import LOCAL_DIR, copy_database, drop_database, write_config  # noqa: E402

# bench script: its arguments
BENCHES = {
    "billing_run.py": ["--smoke"],
    "scale_run.py": ["--smoke"],
    "send_run.py": ["--smoke", "--nodes", "2"],
    "month_end.py": ["--smoke"],
    "review.py": ["--smoke", "--no-update"],
    "xero_push.py": ["--smoke"],
    "psa_push.py": ["--smoke"],
    "reconcile.py": ["--smoke"],
    "ledger_sim.py": ["--customers", "2", "--months", "2", "--events", "1"],
    "cdr_ingest.py": ["--rows", "1000", "--workers", "1"],
}
TIMEOUT = 600
# Benches run at once (they mostly wait: for PostgreSQL, their server, wkhtmltopdf).
JOBS = int(os.environ.get("REBILLING_BENCH_SMOKE_JOBS", "2"))


def _test_database():
    from odoo.tools import config

    names = config["db_name"]
    name = names[0] if isinstance(names, list) else names
    if not name:
        pytest.fail("no test database: run through setup/test.py (--odoo-database)")
    return name


def run_bench(template, script, lock):
    """Run ``script`` on a copy of ``template``: (exit code, output, seconds)."""
    db = f"{template}_{script[:-3]}"
    with lock:  # one CREATE DATABASE from the template at a time
        copy_database(template, db)
    # The config a bench's environment reads (ensure_database writes the same).
    configs = [write_config(db, http_port=8199, log_level="warn")]
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / script), *BENCHES[script], "--db", db],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        with lock:
            drop_database(db)
        for path in [*configs, *ROOT.glob(f"odoo.{db}_server*.conf")]:
            path.unlink(missing_ok=True)
    if not done.returncode:
        for path in LOCAL_DIR.glob(f"{db}_server*.log"):
            path.unlink(missing_ok=True)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


@pytest.fixture(scope="module")
def bench_runs(request):
    """The selected benches started, ``JOBS`` at a time, on copies of a copy of the test
    database (one that no session uses); ``{script: future of run_bench}``."""
    from odoo import sql_db

    selected = [
        item.callspec.params["script"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    ]

    source = _test_database()
    template = f"{source}_bench_smoke"
    # This process's own idle connections would stop PostgreSQL from copying.
    sql_db.close_db(source)
    copy_database(source, template)
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        yield {script: pool.submit(run_bench, template, script, lock) for script in selected}
    drop_database(template)


@pytest.mark.parametrize("script", list(BENCHES))
def test_bench_runs_at_a_tiny_size(bench_runs, script):
    code, output, seconds = bench_runs[script].result()
    assert code == 0, f"bench/{script} exited {code}:\n{output[-6000:]}"
    print(f"bench/{script}: {seconds:.0f} s\n{output[-1500:]}")
