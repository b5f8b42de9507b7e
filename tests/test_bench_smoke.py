"""Every bench of bench/ at a tiny size: a run that must finish, its figures not asserted.

A bench no one runs breaks unseen (bench/review.py stopped on an AccessError once
least privilege refused its direct write). Each bench runs as a subprocess, as a
developer runs it, with ``--smoke`` (its tiny sizes) or small command-line sizes,
on a database of its own: a copy of the test database (every addon installed, the
Australian chart), dropped afterwards.
"""

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.bench_support import LOCAL_DIR, copy_database, drop_database, write_config  # noqa: E402

# bench script: its arguments
BENCHES = {
    "billing_run.py": ["--smoke"],
    "scale_run.py": ["--smoke"],
    "send_run.py": ["--smoke"],
    "month_end.py": ["--smoke"],
    "review.py": ["--smoke", "--no-update"],
    "xero_push.py": ["--smoke"],
    "psa_push.py": ["--smoke"],
    "reconcile.py": ["--smoke"],
    "ledger_sim.py": ["--customers", "2", "--months", "2", "--events", "1"],
    "cdr_ingest.py": ["--rows", "1000", "--workers", "1"],
}
TIMEOUT = 600


def _test_database():
    from odoo.tools import config

    names = config["db_name"]
    name = names[0] if isinstance(names, list) else names
    if not name:
        pytest.fail("no test database: run through setup/test.py (--odoo-database)")
    return name


@pytest.fixture(scope="module")
def smoke_template():
    """A copy of the test database that no session uses: each bench's database copies it."""
    from odoo import sql_db

    source = _test_database()
    name = f"{source}_bench_smoke"
    # This process's own idle connections would stop PostgreSQL from copying.
    sql_db.close_db(source)
    copy_database(source, name)
    yield name
    drop_database(name)


@pytest.mark.parametrize("script", list(BENCHES))
def test_bench_runs_at_a_tiny_size(smoke_template, script):
    db = f"{smoke_template}_{script[:-3]}"
    copy_database(smoke_template, db)
    # The config a bench's environment reads (ensure_database writes the same).
    configs = [write_config(db, http_port=8199, log_level="warn")]
    configs.append(ROOT / f"odoo.{db}_server.conf")
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
        drop_database(db)
        for path in configs:
            path.unlink(missing_ok=True)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"bench/{script} exited {done.returncode}:\n{output[-6000:]}"
    (LOCAL_DIR / f"{db}_server.log").unlink(missing_ok=True)
    print(f"bench/{script}: {time.monotonic() - started:.0f} s\n{done.stdout[-2000:]}")
