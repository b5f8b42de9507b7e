"""Shared helpers of the setup scripts (install, demo, test).

Every check stops the script with a message that names what is missing and
how to get it. When Odoo 19.0 Community is not importable as ``odoo``, the
scripts install it from the source given with ``--odoo PATH`` (or the
environment variable ``ODOO_SOURCE``): see ``odoo_install.py``.
"""

import configparser
import importlib.metadata
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = ROOT / ".local"
ODOO_SERIES = "19.0"
ADDONS = [
    "rebilling_base",
    "rebilling_connector",
    "rebilling_voip",
    "rebilling_review",
    "rebilling_xero_sync",
    "rebilling_autotask",
    "rebilling_connectwise",
]
# Debian packages needed at run time: (executable, package, why)
DEBIAN_TOOLS = [
    ("wkhtmltopdf", "wkhtmltopdf", "PDF invoices"),
    ("chromium", "chromium", "browser tours in the tests"),
    ("pdftotext", "poppler-utils", "reading the invoice PDFs in the tests"),
]


class SetupError(Exception):
    """A missing prerequisite, with a message for the user."""


def say(msg):
    print(f"[rebilling] {msg}", flush=True)


def fail(msg):
    print(f"[rebilling] ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(2)


def run(cmd, **kw):
    say("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run(cmd, check=True, **kw)


# ---------------------------------------------------------------- checks
def check_odoo():
    """Return the odoo package; stop when it is missing or not 19.0."""
    from odoo_install import SOURCES_HELP

    try:
        from odoo import release
    except ImportError as exc:
        raise SetupError(
            f"Odoo is not installed: 'import odoo' fails in {sys.executable} ({exc}). "
            + SOURCES_HELP
        ) from exc
    if release.serie != ODOO_SERIES:
        raise SetupError(
            f"Wrong Odoo version: found {release.version} at {Path(release.__file__).parent}, "
            f"this module set needs Odoo {ODOO_SERIES} Community."
        )
    return release


def odoo_server_script():
    """The command that starts the Odoo server of the installed ``odoo``."""
    check_odoo()
    from odoo import release

    src = Path(release.__file__).resolve().parent.parent
    for candidate in (src / "setup" / "odoo", src / "odoo-bin"):
        if candidate.exists():
            return [sys.executable, str(candidate)]
    exe = shutil.which("odoo")
    if exe:
        return [sys.executable, exe]
    raise SetupError(
        f"Odoo's server script was not found next to {src} (setup/odoo or odoo-bin) "
        "nor on PATH as 'odoo'."
    )


def missing_requirements(req_file):
    """Requirements of ``req_file`` that are not installed (or too old)."""
    from packaging.requirements import Requirement

    missing = []
    for line in Path(req_file).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        if req.marker and not req.marker.evaluate():
            continue
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            missing.append(line)
    return missing


REQUIREMENT_FILES = ("requirements.txt", "requirements-test.txt")


def ensure_python_requirements():
    files = [ROOT / name for name in REQUIREMENT_FILES]
    missing = [req for f in files for req in missing_requirements(f)]
    if not missing:
        say("Python requirements: all present")
        return
    say("Python requirements missing: " + ", ".join(missing))
    run([sys.executable, "-m", "pip", "install", "-q", *missing])
    still = [req for f in files for req in missing_requirements(f)]
    if still:
        raise SetupError("pip could not install: " + ", ".join(still))


def ensure_debian_tools(required=True):
    absent = [(exe, pkg, why) for exe, pkg, why in DEBIAN_TOOLS if not shutil.which(exe)]
    if not absent:
        say("Debian tools: " + ", ".join(e for e, _p, _w in DEBIAN_TOOLS) + " present")
        return
    pkgs = [pkg for _e, pkg, _w in absent]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", *pkgs], env=env)
    absent = [(exe, pkg, why) for exe, pkg, why in absent if not shutil.which(exe)]
    if absent and required:
        raise SetupError(
            "Missing programs: "
            + "; ".join(f"{exe} (Debian package '{pkg}', for {why})" for exe, pkg, why in absent)
            + ". Install them with apt-get as root."
        )


def pg_connect(dbname="postgres"):
    import psycopg2

    return psycopg2.connect(dbname=dbname)


# Messages of a server that will answer soon: crash recovery after a backend
# died, a start or a restart in progress.  Waited for, never reported at once.
PG_TRANSIENT = (
    "the database system is in recovery mode",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is not yet accepting connections",
)
# A server that is not running (yet): waited for only after starting it.
PG_DOWN = ("no such file or directory", "connection refused")


def _pg_wait(seconds, transient=PG_TRANSIENT):
    """Try to connect until ``seconds`` have passed; return None or the last error."""
    import psycopg2

    deadline = time.monotonic() + seconds
    announced = False
    while True:
        try:
            pg_connect().close()
            return None
        except psycopg2.OperationalError as exc:
            error = exc
        text = str(error).lower()
        if time.monotonic() >= deadline or not any(t in text for t in transient):
            return error
        if not announced:
            say(f"PostgreSQL: waiting for the server ({str(error).strip().splitlines()[-1]})")
            announced = True
        time.sleep(2)


def ensure_postgresql(wait=None):
    """Make sure a PostgreSQL server answers on the local socket.

    A server in crash recovery, starting or restarting is waited for (up to
    ``REBILLING_PG_WAIT`` seconds, 600 by default); a stopped local cluster is
    started, then waited for.
    """
    if wait is None:
        wait = int(os.environ.get("REBILLING_PG_WAIT", "600"))
    first_error = _pg_wait(wait)
    if first_error is None:
        say("PostgreSQL: reachable on the local socket")
        return
    if shutil.which("pg_lsclusters") and shutil.which("pg_ctlcluster"):
        out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=False)
        for line in out.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 4 and parts[3] != "online":
                run(
                    ["pg_ctlcluster", "--skip-systemctl-redirect", parts[0], parts[1], "start"],
                    check=False,
                )
        if _pg_wait(min(wait, 120), PG_TRANSIENT + PG_DOWN) is None:
            say("PostgreSQL: started the local cluster")
            return
    raise SetupError(
        "No PostgreSQL server is reachable on the local socket "
        f"({str(first_error).strip()}). Install PostgreSQL 13+ (Debian: postgresql), "
        "start it, and let the current user connect (trust or peer authentication)."
    )


def drop_database(name):
    conn = pg_connect()
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cr.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.close()
    filestore = LOCAL_DIR / "data" / "filestore" / name
    if filestore.exists():
        shutil.rmtree(filestore)


def write_config(name, queue_job_channels=None, queue_job_port=None, **options):
    """Write an Odoo config file (ignored by git) and return its path.

    ``queue_job_channels``: the ``[queue_job] channels`` of the job runner;
    ``queue_job_port``: the port it sends jobs to (a load balancer in front of
    several nodes), this server's own when not given.
    """
    LOCAL_DIR.mkdir(exist_ok=True)
    path = ROOT / f"odoo.{name}.conf"
    cfg = configparser.ConfigParser()
    cfg["options"] = {
        "addons_path": str(ROOT),
        "data_dir": str(LOCAL_DIR / "data"),
        "http_interface": "127.0.0.1",
        "list_db": "False",
        "log_level": "info",
        "max_cron_threads": "0",
        **{k: str(v) for k, v in options.items()},
    }
    if queue_job_channels:
        cfg["queue_job"] = {"channels": queue_job_channels}
        if queue_job_port:
            cfg["queue_job"]["port"] = str(queue_job_port)
    with path.open("w") as fh:
        cfg.write(fh)
    return path


def add_odoo_argument(parser):
    parser.add_argument(
        "--odoo",
        metavar="PATH",
        default=os.environ.get("ODOO_SOURCE"),
        help="Odoo 19.0 Community source (folder, tarball or bare git directory) to install "
        "when 'import odoo' fails (default: $ODOO_SOURCE)",
    )


def ensure_odoo(source):
    """Install Odoo from ``source`` when it is not importable, then start this script again."""
    import odoo_install

    try:
        check_odoo()
        return
    except SetupError:
        if not source or os.environ.get("REBILLING_ODOO_INSTALLED"):
            raise
    try:
        odoo_install.install(source, python=sys.executable, workdir=LOCAL_DIR)
    except odoo_install.OdooSourceError as exc:
        raise SetupError(str(exc)) from exc
    # The editable install is seen by a new interpreter only.
    env = dict(os.environ, REBILLING_ODOO_INSTALLED="1")
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def prepare(debian_required=True, odoo_source=None):
    """All checks and installs shared by the demo and the test command."""
    try:
        ensure_odoo(odoo_source)
        ensure_python_requirements()
        ensure_debian_tools(required=debian_required)
        ensure_postgresql()
    except SetupError as exc:
        fail(str(exc))
    except subprocess.CalledProcessError as exc:
        fail(f"command failed: {exc}")
