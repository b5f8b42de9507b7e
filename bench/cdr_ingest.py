#!/usr/bin/env python3
"""CDR ingest benchmark: raw COPY baseline, the product's import, and rating.

    python3 bench/cdr_ingest.py                 # 1,000,000 CDRs
    python3 bench/cdr_ingest.py --rows 200000 --db rebilling_voip_bench

It builds the database (rebilling_voip installed, no demo data) unless it
exists, sets up a bench company with customers, voice services and a rate plan,
writes N CDRs as one CSV file, then in one run measures:

(a) ``psql \\copy`` of the file into a bare table (the baseline), and for
    reference the same into a table shaped like ``rebilling_cdr`` (its indexes
    and fillfactor, no parsing): the ceiling of any import into that table; and
    the floor of any import through a staging table (typed COPY into staging,
    one plain INSERT ... SELECT into a primary-key-only copy of the CDR table);
(b) the product's import of the same file (COPY, staging, set-based SQL), the
    calls inserted new, as the folder import does; with ``--rate-inline`` rated
    as they are inserted (``_import_file(rate=True)``, as the upload wizard
    does: one INSERT, which PostgreSQL runs on one core);
(c) the rating of the CDRs left new, as ``--workers`` job workers do it: the
    period cut into that many slices (``_rating_slices``), each rated by a
    rating job (one UPDATE) in its own session, all at once (``--workers 1``:
    one UPDATE in one transaction); then, for the rating rate, a re-rating of
    all the imported CDRs the same way.

and prints rows/s and the ratios against the goals, the import against the
ceiling measured in the same run: the import (rating included) at least 0.45 of
the ceiling's rate (issue 22: with the format options of real layouts in place),
and the import + the rating of what it left new at most 10 s per million CDRs
(issue 13). The CDRs of the bench company are deleted before each run.
"""

import argparse
import ast
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "rebilling_voip_bench"
BENCH_COMPANY = "Bench Telecom"
CUSTOMERS = 1000  # two numbers each
CALLED_POOL = 50_000
MONTH_START = datetime(2026, 10, 1)
GOAL_IMPORT_RATIO = 0.45  # of the ceiling's rate (same run; issue 22)
GOAL_TOTAL_S = 10.0  # import + rating, per million CDRs


def say(msg):
    print(f"[bench] {msg}", flush=True)


def server_script():
    from odoo import release

    src = Path(release.__file__).resolve().parent.parent
    for candidate in (src / "setup" / "odoo", src / "odoo-bin"):
        if candidate.exists():
            return [sys.executable, str(candidate)]
    raise SystemExit("Odoo's server script was not found")


def write_config(folder, db):
    path = Path(folder) / "odoo.bench.conf"
    path.write_text(
        "[options]\n"
        f"addons_path = {ROOT}\n"
        f"data_dir = {ROOT / '.local' / 'data'}\n"
        "list_db = False\n"
        "http_interface = 127.0.0.1\n"
        "max_cron_threads = 0\n"
        "log_level = warn\n"
        f"db_name = {db}\n"
    )
    return path


def installed_version(db):
    """The version of rebilling_voip installed in ``db``, or None."""
    try:
        conn = psycopg2.connect(dbname=db)
    except psycopg2.OperationalError:
        return None
    try:
        with conn.cursor() as cr:
            cr.execute(
                "SELECT latest_version FROM ir_module_module "
                "WHERE name = 'rebilling_voip' AND state = 'installed'"
            )
            row = cr.fetchone()
            return row and row[0]
    except psycopg2.Error:
        return None
    finally:
        conn.close()


def ensure_database(db, config):
    manifest = ast.literal_eval((ROOT / "rebilling_voip" / "__manifest__.py").read_text())
    installed = installed_version(db)
    if installed == manifest["version"]:
        say(f"database {db}: rebilling_voip installed, reused")
        return
    if installed:
        say(f"database {db}: updating rebilling_voip {installed} to {manifest['version']}")
        subprocess.run(
            [
                *server_script(),
                "-c",
                str(config),
                "-d",
                db,
                "-u",
                "rebilling_voip",
                "--stop-after-init",
            ],
            check=True,
            cwd=ROOT,
        )
        return
    say(f"database {db}: installing l10n_au and rebilling_voip (a few minutes)")
    subprocess.run(
        [
            *server_script(),
            "-c",
            str(config),
            "-d",
            db,
            "-i",
            "l10n_au,rebilling_voip",
            "--stop-after-init",
        ],
        check=True,
        cwd=ROOT,
    )


def open_env(db, config):
    import odoo
    from odoo.modules.registry import Registry
    from odoo.tools import config as odoo_config

    odoo_config.parse_config(["-c", str(config), "-d", db])
    registry = Registry(db)
    cr = registry.cursor()
    return odoo.api.Environment(cr, odoo.SUPERUSER_ID, {}), cr


def setup_data(env):
    """The bench company, its customers, voice services, rate plan and CDR format."""
    company = env["res.company"].search([("name", "=", BENCH_COMPANY)], limit=1)
    if not company:
        company = env["res.company"].create(
            {
                "name": BENCH_COMPANY,
                "country_id": env.ref("base.au").id,
                "currency_id": env.ref("base.AUD").id,
            }
        )
    env = env(context=dict(env.context, allowed_company_ids=[company.id]))
    Service = env["rebilling.service"]
    product = env["product.product"].search([("default_code", "=", "BENCH-VOICE")], limit=1)
    if not product:
        product = env["product.product"].create(
            {
                "company_id": company.id,
                "name": "Bench voice usage",
                "default_code": "BENCH-VOICE",
                "type": "service",
                "rebilling_service_type": "voice",
            }
        )
    services = Service.search([("product_id", "=", product.id)])
    if len(services) < CUSTOMERS:
        say(f"creating {CUSTOMERS} customers with 2 numbers each")
        partners = env["res.partner"].create(
            [
                {
                    "name": f"Bench customer {i:04d}",
                    "company_id": company.id,
                    "is_company": True,
                    "rebilling_enabled": True,
                }
                for i in range(CUSTOMERS)
            ]
        )
        Service.create(
            [
                {
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "product_id": product.id,
                    "price_unit": 0.0,
                    "date_start": date(2026, 1, 1),
                    "identifiers": f"+612{8000 + i:04d}{1000 + i % 9000:04d}\n"
                    f"+614{20000 + i:05d}{i % 1000:03d}",
                }
                for i, partner in enumerate(partners)
            ]
        )
        services = Service.search([("product_id", "=", product.id)])
    plan = env["rebilling.rate.plan"].search([("name", "=", "Bench plan")], limit=1)
    if not plan:
        groups = env["rebilling.destination.group"].search([])
        plan = env["rebilling.rate.plan"].create(
            {
                "name": "Bench plan",
                "company_id": company.id,
                "rate_ids": [
                    (
                        0,
                        0,
                        {
                            "destination_group_id": group.id,
                            "method": "cost_plus"
                            if group.category == "international"
                            else "per_minute",
                            "rate_per_minute": 0.12,
                            "first_block": 30,
                            "next_block": 1,
                            "markup_percent": 40,
                            "minimum_charge": 0.05 if group.category == "international" else 0.0,
                        },
                    )
                    for group in groups
                ],
            }
        )
    company.rebilling_rate_plan_id = plan
    fmt = env["rebilling.cdr.format"].search([("name", "=", "Bench CSV")], limit=1)
    if not fmt:
        fmt = env["rebilling.cdr.format"].create(
            {"name": "Bench CSV", "company_id": company.id, "column_count": 6}
        )
    env.cr.commit()
    callers = [ident for service in services for ident in service._identifier_list()]
    return company, fmt, callers


def called_pool(rng):
    pool = []
    for i in range(CALLED_POOL):
        kind = i % 10
        if kind < 4:
            pool.append(f"04{rng.randint(0, 99999999):08d}")  # national mobile format
        elif kind < 6:
            pool.append(f"+612{rng.randint(0, 99999999):08d}")
        elif kind < 8:
            area = rng.choice("378")
            pool.append(f"0{area} {rng.randint(0, 9999):04d} {rng.randint(0, 9999):04d}")
        elif kind < 9:
            pool.append(f"1300{rng.randint(0, 999999):06d}")
        else:
            head = rng.choice(["+44", "+1415", "+64", "+86", "+91", "+49", "+27"])
            pool.append(f"{head}{rng.randint(0, 9999999):07d}")
    return pool


def write_csv(path, rows, callers, run_tag):
    rng = random.Random(20261001)
    pool = called_pool(rng)
    span = 30 * 86400
    step = span / rows
    ncallers = len(callers)
    npool = len(pool)
    with open(path, "w") as fh:
        fh.write("start_time,duration,caller,called,call_id,cost\n")
        chunk = []
        for n in range(rows):
            start = MONTH_START + timedelta(seconds=int(n * step))
            duration = int(rng.expovariate(1 / 150.0)) + 1
            chunk.append(
                f"{start:%Y-%m-%d %H:%M:%S},{duration},{callers[rng.randrange(ncallers)]},"
                f"{pool[rng.randrange(npool)]},{run_tag}-{n:09d},{duration * 0.0004:.4f}\n"
            )
            if len(chunk) >= 50_000:
                fh.writelines(chunk)
                chunk = []
        fh.writelines(chunk)


def clean(db, company_id):
    conn = psycopg2.connect(dbname=db)
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute("DELETE FROM rebilling_cdr WHERE company_id = %s", [company_id])
        cr.execute("DELETE FROM rebilling_cdr_import WHERE company_id = %s", [company_id])
        cr.execute("VACUUM ANALYZE rebilling_cdr")
        cr.execute("DROP TABLE IF EXISTS bench_raw_copy")
        cr.execute(
            "CREATE TABLE bench_raw_copy (start_time text, duration text, caller text, "
            "called text, call_id text, cost text)"
        )
        cr.execute("CHECKPOINT")
    conn.close()


def psql_copy(db, target, path):
    """Seconds of ``psql \\copy`` of the CSV file ``path`` into ``target``."""
    started = time.monotonic()
    subprocess.run(
        [
            "psql",
            "-q",
            "-d",
            db,
            "-c",
            f"\\copy {target} FROM '{path}' WITH (FORMAT csv, HEADER true)",
        ],
        check=True,
    )
    return time.monotonic() - started


def raw_copy(db, path):
    return psql_copy(db, "bench_raw_copy", path)


def shaped_copy(db, path):
    """The same COPY into an empty table shaped like ``rebilling_cdr``.

    Same columns, indexes and fillfactor, no parsing, no check: how fast the
    CDR table itself takes the rows, a ceiling for any import into it.
    """
    conn = psycopg2.connect(dbname=db)
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute("DROP TABLE IF EXISTS bench_cdr_shape")
        cr.execute("SELECT reloptions FROM pg_class WHERE relname = 'rebilling_cdr'")
        options = ", ".join(cr.fetchone()[0] or ["fillfactor=100"])
        cr.execute(
            f"CREATE TABLE bench_cdr_shape (LIKE rebilling_cdr INCLUDING INDEXES) WITH ({options})"
        )
        cr.execute("CREATE SEQUENCE IF NOT EXISTS bench_cdr_shape_seq")
        cr.execute(
            "ALTER TABLE bench_cdr_shape "
            "ALTER COLUMN id SET DEFAULT nextval('bench_cdr_shape_seq'), "
            "ALTER COLUMN company_id SET DEFAULT 0, ALTER COLUMN state SET DEFAULT 'new', "
            "ALTER COLUMN called_e164 DROP NOT NULL"
        )
        cr.execute("CHECKPOINT")
    conn.close()
    elapsed = psql_copy(
        db,
        "bench_cdr_shape (start_time, duration, caller, called, supplier_call_id, cost)",
        path,
    )
    conn = psycopg2.connect(dbname=db)
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute("DROP TABLE bench_cdr_shape")
        cr.execute("DROP SEQUENCE bench_cdr_shape_seq")
        cr.execute("CHECKPOINT")
    conn.close()
    return elapsed


def staged_floor(db, path):
    """Seconds of the least any import through a staging table can do.

    ``COPY`` of the file into an UNLOGGED staging table whose columns are already
    typed (PostgreSQL's COPY does the parsing), then one ``INSERT ... SELECT`` of
    the rows, unchanged, into a copy of ``rebilling_cdr`` with only its primary
    key: no checks, no number normalization, no duplicate index, no fillfactor
    headroom. The issue asks for exactly these two steps (COPY into staging, then
    set-based SQL); everything the product does comes on top.
    """
    conn = psycopg2.connect(dbname=db)
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute("DROP TABLE IF EXISTS bench_floor_stg, bench_floor_cdr")
        cr.execute(
            "CREATE UNLOGGED TABLE bench_floor_stg (start_time timestamp, duration int, "
            "caller text, called text, call_id text, cost numeric)"
        )
        cr.execute("CREATE TABLE bench_floor_cdr (LIKE rebilling_cdr)")
        cr.execute("ALTER TABLE bench_floor_cdr ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY")
        cr.execute("ALTER TABLE bench_floor_cdr ADD PRIMARY KEY (id)")
        cr.execute("CHECKPOINT")
    copy_s = psql_copy(db, "bench_floor_stg", path)
    with conn.cursor() as cr:
        started = time.monotonic()
        cr.execute(
            "INSERT INTO bench_floor_cdr (start_time, duration, caller, caller_e164, called, "
            "called_e164, supplier_call_id, cost, company_id, state) "
            "SELECT start_time, duration, caller, caller, called, called, call_id, cost, 0, "
            "'new' FROM bench_floor_stg"
        )
        insert_s = time.monotonic() - started
        cr.execute("DROP TABLE bench_floor_stg, bench_floor_cdr")
        cr.execute("CHECKPOINT")
    conn.close()
    return copy_s, insert_s


def rate_like_job_workers(env, company, workers, rerate=False):
    """Rate the new CDRs of ``company`` as ``workers`` job workers run its rating jobs.

    The slices and the job method are the product's (``_rate_in_jobs`` queues
    the same); each thread is one worker with its own database session.
    """
    import odoo

    Cdr = env["rebilling.cdr"]
    if workers == 1:
        rated = Cdr._rate(company, rerate=rerate)
        env.cr.commit()
        return rated
    _count, slices = Cdr._rating_slices(company, rerate=rerate, jobs=workers)
    rated = [0] * len(slices)

    def worker(slot, start, end):
        with env.registry.cursor() as cr:
            job_env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            rated[slot] = job_env["rebilling.cdr"]._rate(
                job_env["res.company"].browse(company.id), start, end, rerate, slot=slot
            )

    threads = [
        threading.Thread(target=worker, args=(slot, start, end))
        for slot, (start, end) in enumerate(slices)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    env.cr.commit()  # a new snapshot: the calls as the workers left them
    return sum(rated)


def hot_updates(db):
    conn = psycopg2.connect(dbname=db)
    with conn.cursor() as cr:
        cr.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
            "WHERE relname = 'rebilling_cdr'"
        )
        row = cr.fetchone()
    conn.close()
    return row or (0, 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="CDRs to generate")
    parser.add_argument("--db", default=DEFAULT_DB, help="database (built when missing)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="job workers rating at once"
    )
    parser.add_argument(
        "--rate-inline",
        action="store_true",
        help="rate the calls as the import inserts them (as the upload wizard does)",
    )
    args = parser.parse_args()
    rows = args.rows

    with tempfile.TemporaryDirectory(prefix="cdr_bench_") as folder:
        config = write_config(folder, args.db)
        ensure_database(args.db, config)
        env, cr = open_env(args.db, config)
        try:
            company, fmt, callers = setup_data(env)
            csv_path = Path(folder) / f"cdrs_{rows}.csv"
            started = time.monotonic()
            write_csv(csv_path, rows, callers, f"B{int(time.time())}")
            size = csv_path.stat().st_size / 1e6
            say(f"generated {rows:,} CDRs ({size:.0f} MB) in {time.monotonic() - started:.1f} s")
            cr.commit()  # no snapshot held: VACUUM removes the rows deleted by clean()
            clean(args.db, company.id)
            cr.commit()  # a new snapshot: the cleaned table

            copy_s = raw_copy(args.db, csv_path)
            say(f"(a) raw psql \\copy:  {copy_s:6.2f} s  {rows / copy_s:12,.0f} rows/s")
            shaped_s = shaped_copy(args.db, csv_path)
            say(
                f"    the same into a table shaped like rebilling_cdr (indexes, fillfactor): "
                f"{shaped_s:.2f} s, {rows / shaped_s:,.0f} rows/s, "
                f"{copy_s / shaped_s:.2f} of the raw rate (a ceiling for any import)"
            )

            floor_copy_s, floor_insert_s = staged_floor(args.db, csv_path)
            floor_s = floor_copy_s + floor_insert_s
            say(
                f"    floor of any staged import: COPY into typed staging {floor_copy_s:.2f} s "
                f"+ INSERT ... SELECT into a primary-key-only rebilling_cdr {floor_insert_s:.2f} s "
                f"= {floor_s:.2f} s, {copy_s / floor_s:.2f} of the raw rate "
                f"(no parsing, checks, normalization or duplicate index)"
            )

            started = time.monotonic()
            data = csv_path.read_bytes()
            imp = env["rebilling.cdr.import"]._import_file(
                fmt, data, csv_path.name, rate=args.rate_inline
            )
            cr.commit()
            import_s = time.monotonic() - started
            say(
                f"(b) product import:  {import_s:6.2f} s  {rows / import_s:12,.0f} rows/s  "
                f"(imported {imp.imported_count:,}, duplicates {imp.duplicate_count:,}, "
                f"errors {imp.error_count:,}; "
                f"{'rated as inserted' if args.rate_inline else 'inserted new'})"
            )

            upd_before, hot_before = hot_updates(args.db)
            started = time.monotonic()
            rated = rate_like_job_workers(env, company, args.workers)
            rate_s = time.monotonic() - started
            workers = f"{args.workers} job worker{'s' if args.workers > 1 else ''} at once"
            say(
                f"(c) rating of the calls left new: {rate_s:6.2f} s  "
                f"{rated / rate_s:12,.0f} CDRs/s ({rated:,}, {workers})"
            )
            cr.execute(
                "SELECT state, count(*) FROM rebilling_cdr WHERE company_id = %s GROUP BY state",
                [company.id],
            )
            say("    states: " + ", ".join(f"{s} {n:,}" for s, n in sorted(cr.fetchall())))
            started = time.monotonic()
            rerated = rate_like_job_workers(env, company, args.workers, rerate=True)
            rerate_s = time.monotonic() - started
            say(
                f"    re-rating all of them: {rerate_s:6.2f} s  "
                f"{rerated / rerate_s:12,.0f} CDRs/s ({rerated:,}, {workers})"
            )
            time.sleep(1)  # statistics are reported asynchronously
            upd_after, hot_after = hot_updates(args.db)
            if upd_after > upd_before:
                hot = (hot_after - hot_before) / (upd_after - upd_before)
                say(f"    HOT (in-page) updates: {hot:.0%}")
        finally:
            cr.close()

    ratio = shaped_s / import_s
    total = import_s + rate_s
    scale = 1_000_000 / rows
    say("results (per million CDRs)")
    say(
        f"  ceiling (\\copy into the shaped table): {shaped_s * scale:.2f} s; "
        f"import: {import_s * scale:.2f} s, {ratio:.2f} of the ceiling's rate "
        f"(goal >= {GOAL_IMPORT_RATIO:.2f}: {'met' if ratio >= GOAL_IMPORT_RATIO else 'NOT met'})"
    )
    if shaped_s / floor_s < GOAL_IMPORT_RATIO:
        say(f"    the floor of a staged import is {shaped_s / floor_s:.2f} of the ceiling here")
    say(
        f"  rating: {rerated / rerate_s if rerate_s else 0:,.0f} CDRs/s (re-rating all, "
        f"{args.workers} workers)"
    )
    scaled = total * scale
    say(
        f"  import + rating: {total:.2f} s for {rows:,} rows, {scaled:.1f} s per million "
        f"(goal <= {GOAL_TOTAL_S:.0f} s: {'met' if scaled <= GOAL_TOTAL_S else 'NOT met'})"
    )
    say(f"  CPU cores: {os.cpu_count()} (shared machine: figures vary with its load)")


if __name__ == "__main__":
    main()
