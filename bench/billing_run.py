#!/usr/bin/env python3
"""Billing run throughput against plain account.move batch create + post, same process.

    python3 bench/billing_run.py [--customers 2000] [--rebuild] [--db rebilling_bench] [--smoke]

Builds N customers with 3 services and 2 charges each (one recurring, one
once-off), runs the billing run (one process, no job runner), then creates and
posts the same invoices with plain ``account.move`` batch ``create`` +
``action_post`` in chunks of the same size. Prints both throughputs and the
ratio (goal: the run is at least 0.8x the baseline). Everything is rolled back.
"""

import argparse
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.bench_support import (
    Timer,
    add_smoke_argument,
    bench_env,
    configure_bench_company,
    ensure_database,
    parse_bench_args,
)

DB = "rebilling_bench"
PERIOD = date(2026, 11, 1)


def build_customers(env, count):
    from odoo import Command

    company, gst = configure_bench_company(env, "BEN-")
    products = env["product.product"].create(
        [
            {
                "name": f"Bench product {i}",
                "list_price": 10.0 * (i + 1),
                "type": "service",
                "taxes_id": [Command.set(gst.ids)],
            }
            for i in range(5)
        ]
    )
    partners = env["res.partner"].create(
        [{"name": f"Bench customer {i:05d}", "rebilling_enabled": True} for i in range(count)]
    )
    env["rebilling.service"].create(
        [
            {"partner_id": p.id, "product_id": products[j].id, "date_start": date(2026, 1, 1)}
            for p in partners
            for j in range(3)
        ]
    )
    env["rebilling.charge"].create(
        [
            {
                "partner_id": p.id,
                "product_id": products[3].id,
                "name": "Router rental",
                "charge_type": "recurring",
                "date_start": date(2026, 1, 1),
            }
            for p in partners
        ]
        + [
            {
                "partner_id": p.id,
                "product_id": products[4].id,
                "name": "Installation",
                "charge_type": "once",
                "date_start": date(2026, 10, 15),
            }
            for p in partners
        ]
    )
    env.flush_all()
    return company, partners, products


def baseline(env, company, partners, products, chunk):
    """The same invoices with plain batch create + post."""
    from odoo import Command

    journal = env["account.journal"].search(
        [("type", "=", "sale"), ("company_id", "=", company.id)], limit=1
    )
    moves = env["account.move"]
    for start in range(0, len(partners), chunk):
        vals_list = [
            {
                "move_type": "out_invoice",
                "partner_id": p.id,
                "journal_id": journal.id,
                "invoice_date": PERIOD,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": prod.id,
                            "name": f"{prod.name} (November 2026)",
                            "quantity": 1,
                            "price_unit": prod.list_price,
                        }
                    )
                    for prod in products
                ],
            }
            for p in partners[start : start + chunk]
        ]
        batch = env["account.move"].create(vals_list)
        batch.action_post()
        moves |= batch
    env.flush_all()
    return moves


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the benchmark database")
    parser.add_argument("--db", default=DB, help="database (built when missing)")
    add_smoke_argument(parser, customers=3)
    args = parse_bench_args(parser)
    ensure_database(args.db, ["rebilling_base"], rebuild=args.rebuild)
    with bench_env(args.db) as env:
        from odoo.addons.rebilling_base.models.rebilling_billing_run_chunk import (
            CHUNK_SIZE,
        )

        with Timer() as t_setup:
            company, partners, products = build_customers(env, args.customers)
        print(
            f"setup: {args.customers} customers, 3 services + 2 charges each, "
            f"{t_setup.seconds:.1f} s"
        )
        run = env["rebilling.billing.run"]._get_or_create(company, PERIOD)
        with Timer() as t_run:
            run._prepare_lines()
            run._process_pending()
            env.flush_all()
        assert run.invoice_count == args.customers, (run.invoice_count, run.error_count)
        with Timer() as t_base:
            moves = baseline(env, company, partners, products, CHUNK_SIZE)
        assert len(moves) == args.customers
        n = args.customers
        for label, timer in (("billing run", t_run), ("baseline", t_base)):
            print(
                f"{label:11} : {n} invoices in {timer.seconds:6.1f} s = {n / timer.seconds:6.1f} "
                f"invoices/s (Odoo process CPU {timer.cpu_seconds:6.1f} s = "
                f"{n / timer.cpu_seconds:6.1f} invoices/s)"
            )
        print(f"baseline = account.move batch create + action_post, chunks of {CHUNK_SIZE}")
        print(
            f"ratio       : {t_base.seconds / t_run.seconds:.2f}x the baseline (wall), "
            f"{t_base.cpu_seconds / t_run.cpu_seconds:.2f}x (process CPU); goal >= 0.80"
        )


if __name__ == "__main__":
    main()
