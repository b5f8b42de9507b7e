"""Helpers of the bench/ scripts: a benchmark database, an Odoo environment on it, the
real server with workers and the job runner, and the tiny ``--smoke`` sizes.

from tests.bench_support import bench_env, ensure_database
ensure_database("rebilling_bench", ["rebilling_base"])
with bench_env("rebilling_bench") as env:
    ...  # rolled back at the end unless commit=True
"""

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "setup"))

from common import (  # noqa: E402
    LOCAL_DIR,
    drop_database,
    odoo_server_script,
    pg_connect,
    prepare,
    say,
    write_config,
)

AU_BOOTSTRAP = """
company = env.ref("base.main_company")
if company.chart_template != "au":
    company.write({"country_id": env.ref("base.au").id, "currency_id": env.ref("base.AUD").id})
    env["account.chart.template"].try_loading("au", company=company, install_demo=False)
env.cr.commit()
"""


def database_exists(name):
    conn = pg_connect()
    with conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        found = bool(cr.fetchone())
    conn.close()
    return found


def ensure_database(name, modules, rebuild=False, update=False):
    """Create ``name`` with ``modules`` (+ l10n_au, AU chart on the main company) if needed;
    with ``update``, a database that exists has ``modules`` updated (installed if missing)."""
    prepare(debian_required=False)
    config = write_config(name, http_port=8199, log_level="warn")
    if rebuild:
        drop_database(name)
    if update and database_exists(name):
        say(f"updating {', '.join(modules)} in {name}")
        subprocess.run(
            [*odoo_server_script(), "-c", str(config), "-d", name, "-u", ",".join(modules)]
            + ["-i", ",".join(modules), "--stop-after-init", "--log-level=warn", "--no-http"],
            check=True,
            cwd=ROOT,
        )
    elif not database_exists(name):
        started = time.monotonic()
        server = odoo_server_script()
        subprocess.run(
            [*server, "-c", str(config), "-d", name, "-i", ",".join(["l10n_au", *modules])]
            + ["--stop-after-init", "--log-level=warn"],
            check=True,
            cwd=ROOT,
        )
        subprocess.run(
            [*server, "shell", "-c", str(config), "-d", name, "--no-http"],
            input=AU_BOOTSTRAP,
            text=True,
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        say(f"benchmark database {name} built in {time.monotonic() - started:.0f} s")
    return config


@contextlib.contextmanager
def bench_env(name, commit=False):
    """An Odoo environment (superuser) on database ``name``; rolled back unless ``commit``."""
    import odoo
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(["-c", str(ROOT / f"odoo.{name}.conf"), "-d", name])
    registry = Registry(name)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        try:
            yield env
        finally:
            if commit:
                cr.commit()
            else:
                cr.rollback()


def configure_bench_company(env, prefix="BEN-"):
    """The main company with a complete rebilling configuration; returns it and its GST."""
    company = env.ref("base.main_company")
    company.write(
        {
            "rebilling_company_name": "Bench Reseller",
            "rebilling_phone": "02 9000 0000",
            "rebilling_abn": "51 824 753 556",
            "rebilling_bank_account_name": "Bench",
            "rebilling_bsb": "062000",
            "rebilling_bank_account_number": "1234",
            "rebilling_sender_email": "billing@bench.example.com",
            "rebilling_invoice_prefix": prefix,
        }
    )
    gst = env["account.tax"].search(
        [("company_id", "=", company.id), ("type_tax_use", "=", "sale"), ("amount", "=", 10)],
        limit=1,
    )
    return company, gst


class Timer:
    """Wall time, and this process's CPU time (steadier when the machine is busy)."""

    def __enter__(self):
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        self.cpu_seconds = time.process_time() - self.cpu_started


# ---------------------------------------------------------------- smoke sizes
def add_smoke_argument(parser, **tiny):
    """``--smoke``: the bench at ``tiny`` sizes (argument name: value), a run that must
    finish; its figures mean nothing. The test command runs every bench so
    (tests/test_bench_smoke.py)."""
    sizes = ", ".join(f"--{name.replace('_', '-')} {value}" for name, value in tiny.items())
    parser.add_argument(
        "--smoke",
        action="store_const",
        const=tiny,
        default=None,
        help=f"a tiny run that must finish, figures not meaningful ({sizes})",
    )


def parse_bench_args(parser, argv=None):
    """``parser``'s arguments, with the ``--smoke`` sizes over the sizes given."""
    args = parser.parse_args(argv)
    for name, value in (getattr(args, "smoke", None) or {}).items():
        setattr(args, name, value)
    return args


# ---------------------------------------------------------------- databases
def bench_sql(db, query, params=None, fetch=True):
    """Run ``query`` on ``db`` in autocommit (outside any Odoo transaction)."""
    conn = pg_connect(db)
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute(query, params or [])
            return cr.fetchall() if fetch else None
    finally:
        conn.close()


def copy_database(source, target, wait=10):
    """``target`` as a copy of ``source``, filestore included.

    PostgreSQL copies a template only while no session is connected to it: a source
    still in use after ``wait`` seconds (a test session's HTTP server or job runner keeps
    one) is copied by ``pg_dump | pg_restore`` instead, slower but with sessions on it."""
    import psycopg2

    drop_database(target)
    conn = pg_connect()
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            for attempt in range(wait + 1):
                try:
                    cr.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
                    break
                except psycopg2.errors.ObjectInUse:
                    if attempt < wait:
                        time.sleep(1)
                        continue
                    cr.execute(f'CREATE DATABASE "{target}"')
                    dump = subprocess.Popen(
                        ["pg_dump", "--format=custom", "--no-owner", source],
                        stdout=subprocess.PIPE,
                    )
                    subprocess.run(
                        ["pg_restore", "--no-owner", "--exit-on-error", "-d", target],
                        stdin=dump.stdout,
                        check=True,
                    )
                    dump.stdout.close()
                    if dump.wait():
                        raise subprocess.CalledProcessError(dump.returncode, "pg_dump") from None
    finally:
        conn.close()
    filestore = LOCAL_DIR / "data" / "filestore"
    if (filestore / source).exists():
        shutil.copytree(filestore / source, filestore / target, symlinks=True)


# ---------------------------------------------------------------- the real server
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BenchServer:
    """Odoo on 127.0.0.1 as production runs it: ``workers`` HTTP workers, the queue_job
    runner with ``queue_job_channels``, no cron thread; ``options`` go to its config
    (e.g. ``smtp_port``, ``limit_time_real``). Its log is ``.local/<db>_server.log``.

    with BenchServer(db, workers=2, queue_job_channels="root:1") as server:
        ...  # server.port
    """

    START_TIMEOUT = 120

    def __init__(self, db, workers, queue_job_channels, log_level="warn", **options):
        self.db = db
        self.port = free_port()
        self.log_path = LOCAL_DIR / f"{db}_server.log"
        self.config = write_config(
            f"{db}_server",
            http_port=self.port,
            workers=workers,
            max_cron_threads=0,
            server_wide_modules="web,queue_job",
            log_level=log_level,
            db_name=db,
            dbfilter=f"^{db}$",
            queue_job_channels=queue_job_channels,
            **options,
        )
        self.log = None
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [*odoo_server_script(), "-c", str(self.config)],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    self.log.close()
                    raise SystemExit(
                        f"Odoo stopped (exit {self.process.returncode}): see {self.log_path}"
                    ) from None
                time.sleep(0.5)
        self.stop()
        raise SystemExit(f"Odoo did not answer within {self.START_TIMEOUT} s")

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.log:
            self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def watchdog_kills(self):
        """Workers killed by Odoo's time limits, as its log says."""
        text = self.log_path.read_text(errors="replace")
        return sum(text.count(s) for s in ("virtual real time limit", "CPU time limit"))


def server_bench_parser(doc, db, customers, channels):
    """The arguments of a bench on the real server: sizes, channels, kill, database."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--customers", type=int, default=customers)
    parser.add_argument("--channels", default="1,2", help=f"numbers of {channels} channels")
    parser.add_argument("--kill", action="store_true", help="also a run with workers killed")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the benchmark database")
    parser.add_argument("--server-log", default="warn", help="log level of the Odoo server")
    parser.add_argument("--db", default=db, help="database (built when missing)")
    return parser


def start_billing_run(db, period):
    """Start the month of ``period`` as the monthly cron does (its chunks are jobs)."""
    with bench_env(db, commit=True) as env:
        company = env.ref("base.main_company")
        run = env["rebilling.billing.run"]._get_or_create(company, period)
        run.action_start()
        return run.id


def kill_busy_job_worker(db, method_name=None):
    """SIGKILL the worker of one started job (of ``method_name``, when given); its pid."""
    query = "SELECT worker_pid FROM queue_job WHERE state = 'started' AND worker_pid > 0"
    params = []
    if method_name:
        query += " AND method_name = %s"
        params.append(method_name)
    for (pid,) in bench_sql(db, query, params):
        try:
            os.kill(pid, signal.SIGKILL)
            return pid
        except ProcessLookupError:
            continue
    return None


def bench_customers(db):
    """How many "Bench customer" partners ``db`` holds."""
    return bench_sql(db, "SELECT count(*) FROM res_partner WHERE name LIKE 'Bench customer %%'")[0][
        0
    ]


def check_bench_customers(db, count):
    """Whether the ``count`` customers are there already; stop when another count is."""
    have = bench_customers(db)
    if have and have != count:
        raise SystemExit(
            f"{db} holds {have} customers, not {count}: pass --rebuild to build it again"
        )
    return have == count
