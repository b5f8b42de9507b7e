"""Helpers of the bench/ scripts: a benchmark database and an Odoo environment on it.

from tests.bench_support import bench_env, ensure_database
ensure_database("rebilling_bench", ["rebilling_base"])
with bench_env("rebilling_bench") as env:
    ...  # rolled back at the end unless commit=True
"""

import contextlib
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "setup"))

from common import (  # noqa: E402
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


def ensure_database(name, modules, rebuild=False):
    """Create ``name`` with ``modules`` (+ l10n_au, AU chart on the main company) if needed."""
    prepare(debian_required=False)
    config = write_config(name, http_port=8199, log_level="warn")
    if rebuild:
        drop_database(name)
    if not database_exists(name):
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
