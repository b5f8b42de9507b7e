#!/usr/bin/env python3
"""The billing run on the real server: Odoo with --workers and the queue_job runner.

    python3 bench/scale_run.py [--customers 2000] [--channels 1,2] [--kill] [--rebuild]
                               [--db rebilling_scale] [--smoke]

Builds N customers (3 services + 2 charges each) in a database of its own
(kept between runs), starts Odoo as a subprocess on 127.0.0.1 with
``--workers``, ``server_wide_modules = web,queue_job`` and the job runner, and
starts the month the way the monthly cron does (``action_start``: the chunks
are queue jobs). It waits for the run to end and prints, per number of
``root.rebilling`` channels: invoices/s, customers in error, duplicate
invoices, and the ratio 2 channels / 1 channel. ``--kill`` also runs once with
the busy job worker killed by SIGKILL mid-run. The in-process naive baseline
(plain ``account.move`` batch create + ``action_post``, rolled back) is
measured in the same run. Each measured run is removed afterwards, so every
scenario bills the same work.
"""

import os
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from billing_run import baseline, build_customers

from tests.bench_support import (
    BenchServer,
    Timer,
    add_smoke_argument,
    bench_env,
    bench_sql,
    check_bench_customers,
    ensure_database,
    kill_busy_job_worker,
    parse_bench_args,
    say,
    server_bench_parser,
    start_billing_run,
)

DB = "rebilling_scale"
PERIOD = date(2026, 11, 1)
TIMEOUT = 1800


def ensure_customers(db, count):
    if check_bench_customers(db, count):
        return
    with Timer() as timer, bench_env(db, commit=True) as env:
        build_customers(env, count)
    say(f"built {count} customers in {timer.seconds:.0f} s")


def reset_run(db):
    """Remove the period's run, its invoices and once-off links: the next run bills the same."""
    bench_sql(
        db,
        """
        UPDATE rebilling_charge SET invoice_line_id = NULL WHERE invoice_line_id IS NOT NULL;
        DELETE FROM account_move WHERE rebilling_period IS NOT NULL;
        DELETE FROM rebilling_billing_run;
        DELETE FROM queue_job WHERE model_name = 'rebilling.billing.run';
        """,
        fetch=False,
    )


def server(db, channels, log_level="warn"):
    """Odoo with workers and the queue_job runner, on 127.0.0.1."""
    return BenchServer(
        db,
        workers=channels + 1,
        queue_job_channels=f"root:{channels + 1},root.rebilling:{channels}",
        log_level=log_level,
        limit_time_real=600,
        limit_time_cpu=600,
    )


def progress(db, run_id):
    rows = bench_sql(
        db,
        "SELECT state, count(*) FROM rebilling_billing_run_line WHERE run_id = %s GROUP BY state",
        [run_id],
    )
    return dict(rows)


def measure(db, channels, customers, kill=False, log_level="warn"):
    reset_run(db)
    killed = None
    with server(db, channels, log_level):
        started = time.perf_counter()
        run_id = start_billing_run(db, PERIOD)
        while True:
            states = progress(db, run_id)
            done = states.get("done", 0) + states.get("error", 0) + states.get("nothing", 0)
            if kill and killed is None and done >= 0.4 * customers:
                killed = kill_busy_job_worker(db)
            run_state = bench_sql(
                db, "SELECT state FROM rebilling_billing_run WHERE id = %s", [run_id]
            )
            if not states.get("pending") and run_state[0][0] == "done":
                break
            if time.perf_counter() - started > TIMEOUT:
                print(f"  timed out after {TIMEOUT} s: {states}")
                break
            time.sleep(0.5)
        seconds = time.perf_counter() - started
    states = progress(db, run_id)
    invoices = bench_sql(
        db, "SELECT count(*) FROM account_move WHERE rebilling_run_id = %s", [run_id]
    )[0][0]
    duplicates = bench_sql(
        db,
        """SELECT count(*) FROM (SELECT partner_id FROM account_move
            WHERE rebilling_period = %s AND state != 'cancel'
            GROUP BY partner_id HAVING count(*) > 1) d""",
        [PERIOD],
    )[0][0]
    names = bench_sql(
        db,
        "SELECT count(*) - count(DISTINCT name) FROM account_move WHERE rebilling_run_id = %s",
        [run_id],
    )[0][0]
    label = f"{channels} channel{'s' if channels > 1 else ''}" + (" --kill" if kill else "")
    print(
        f"{label:18}: {invoices} invoices in {seconds:6.1f} s = {invoices / seconds:6.1f} "
        f"invoices/s; customers in error {states.get('error', 0)}; duplicate invoices "
        f"{duplicates}; duplicate numbers {names}"
        + (f"; killed worker pid {killed}" if kill else "")
    )
    if invoices != customers or duplicates or names:
        raise SystemExit(f"FAILED: {invoices} invoices for {customers} customers")
    return invoices / seconds


def naive_baseline(db, customers):
    from odoo.addons.rebilling_base.models.rebilling_billing_run_chunk import CHUNK_SIZE

    with bench_env(db) as env:
        company = env.ref("base.main_company")
        products = env["product.product"].search([("name", "like", "Bench product %")], order="id")
        partners = env["res.partner"].search([("name", "like", "Bench customer %")])
        with Timer() as timer:
            moves = baseline(env, company, partners, products, CHUNK_SIZE)
        assert len(moves) == customers
    rate = customers / timer.seconds
    print(
        f"{'naive baseline':18}: {customers} invoices in {timer.seconds:6.1f} s = {rate:6.1f} "
        f"invoices/s (one process, account.move batch create + action_post, rolled back)"
    )
    return rate


def main():
    parser = server_bench_parser(__doc__, DB, customers=2000, channels="root.rebilling")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    add_smoke_argument(parser, customers=3, channels="1")
    args = parse_bench_args(parser)
    db = args.db
    ensure_database(db, ["rebilling_base"], rebuild=args.rebuild)
    ensure_customers(db, args.customers)
    print(f"{args.customers} customers, 3 services + 2 charges each; {os.cpu_count()} cores")
    base = None if args.no_baseline else naive_baseline(db, args.customers)
    rates = {}
    for channels in [int(c) for c in args.channels.split(",")]:
        rates[channels] = measure(db, channels, args.customers, log_level=args.server_log)
    if args.kill:
        measure(db, max(rates), args.customers, kill=True, log_level=args.server_log)
    reset_run(db)
    if 1 in rates and base:
        print(f"1 channel / naive baseline : {rates[1] / base:.2f}x (goal >= 1.0)")
    if 1 in rates and 2 in rates:
        print(f"2 channels / 1 channel     : {rates[2] / rates[1]:.2f}x (goal >= 1.25)")


if __name__ == "__main__":
    main()
