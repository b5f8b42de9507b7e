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
import threading
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

    def __init__(self, db, workers, queue_job_channels, log_level="warn", node="", **options):
        self.db = db
        self.port = free_port()
        self.log_path = LOCAL_DIR / f"{db}_server{node}.log"
        self.config = write_config(
            f"{db}_server{node}",
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


class TcpBalancer:
    """A local TCP load balancer on 127.0.0.1 (as HAProxy in ``mode tcp`` with
    ``balance roundrobin``): each connection goes to the next backend port, both
    ways copied until either side closes. ``connections`` counts them per port.
    """

    def __init__(self, ports):
        self.ports = list(ports)
        self.connections = dict.fromkeys(self.ports, 0)
        self._next = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._closed = False

    def start(self):
        self._sock.listen(128)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.close()

    def _accept(self):
        while not self._closed:
            try:
                client, _addr = self._sock.accept()
            except OSError:
                return
            with self._lock:
                port = self.ports[self._next % len(self.ports)]
                self._next += 1
                self.connections[port] += 1
            threading.Thread(target=self._serve, args=(client, port), daemon=True).start()

    def _serve(self, client, port):
        try:
            backend = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            client.close()
            return
        backend.settimeout(None)
        threading.Thread(target=self._pipe, args=(backend, client), daemon=True).start()
        self._pipe(client, backend)

    @staticmethod
    def _pipe(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


class BenchCluster:
    """``nodes`` Odoo servers on one database behind a :class:`TcpBalancer`, as a
    reseller deploys several nodes: every node runs HTTP workers and a job runner
    (queue_job elects one master per database); the master sends each job to the
    balancer, which hands it to the next node. One node: a plain
    :class:`BenchServer`, no balancer.

    with BenchCluster(db, 2, workers=3, queue_job_channels="root:2") as cluster:
        ...  # cluster.url (the balancer's), cluster.jobs_per_node()
    """

    def __init__(self, db, nodes, workers, queue_job_channels, log_level="warn", **options):
        self.db = db
        self.balancer = None
        if nodes > 1:
            # the balancer's port is known before the nodes' configs are written
            self.balancer = TcpBalancer([])
            options["queue_job_port"] = self.balancer.port
        self.servers = [
            BenchServer(
                db,
                workers=workers,
                queue_job_channels=queue_job_channels,
                log_level=log_level,
                node=f"_node{index + 1}" if nodes > 1 else "",
                **options,
            )
            for index in range(nodes)
        ]
        if self.balancer:
            self.balancer.ports = [server.port for server in self.servers]
            self.balancer.connections = dict.fromkeys(self.balancer.ports, 0)
        self._pid_node = {}

    @property
    def port(self):
        return self.balancer.port if self.balancer else self.servers[0].port

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        if self.balancer:
            self.balancer.start()
        for server in self.servers:
            server.start()
        return self

    def stop(self):
        for server in self.servers:
            server.stop()
        if self.balancer:
            self.balancer.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def watchdog_kills(self):
        return sum(server.watchdog_kills() for server in self.servers)

    def note_workers(self):
        """Remember which node each running process belongs to (call it while polling):
        a node's workers share its process group."""
        groups = {server.process.pid: index for index, server in enumerate(self.servers)}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) not in self._pid_node:
                with contextlib.suppress(OSError):
                    group = os.getpgid(int(entry.name))
                    if group in groups:
                        self._pid_node[int(entry.name)] = groups[group]

    def jobs_per_node(self, method_name):
        """Done jobs of ``method_name`` per node (1-based), by the worker that ran them."""
        counts = {}
        rows = bench_sql(
            self.db,
            "SELECT worker_pid, count(*) FROM queue_job WHERE state = 'done'"
            " AND method_name = %s GROUP BY worker_pid",
            [method_name],
        )
        for pid, count in rows:
            node = self._pid_node.get(pid)
            key = node + 1 if node is not None else "?"
            counts[key] = counts.get(key, 0) + count
        return counts


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
