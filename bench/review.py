#!/usr/bin/env python3
"""Benchmark of rebilling_review: approval and off-peak reissue of invoices under review.

    python3 bench/review.py [--count 1000] [--calls 20] [--late 5] [--db rebilling_review_bench]
                            [--rebuild] [--no-update] [--smoke]

Builds the database on first use (``rebilling_review``, ``rebilling_voip`` and
``l10n_au``, Australian chart on the main company); a database that exists has
them updated unless ``--no-update``. Then, in one transaction that is rolled
back at the end (the database can be reused), as an approver:

1. imports ``--calls`` October calls per customer (setup, not timed) and bills
   ``--count`` customers of a class that reviews its invoices, with voice
   usage (timed): ``--count`` invoices under review;
2. imports ``--late`` more October calls per customer (late CDRs), marks every
   invoice for reissue at the off-peak hour (the Reissue wizard) and, at that
   hour, runs the off-peak reissue (its jobs performed inline; timed): every
   invoice recomputed, its calls rated and linked, call list and invoice
   document regenerated;
3. approves all of them in one action (timed);
4. creates ``--count`` plain draft customer invoices with the same lines and
   posts them with ``action_post`` (timed).

Each timing includes the flush and the tracking written at commit time.
"""

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.bench_support import (
    add_smoke_argument,
    bench_env,
    configure_bench_company,
    ensure_database,
    parse_bench_args,
)

DB = "rebilling_review_bench"
MODULES = ["rebilling_review", "rebilling_voip"]
PERIOD = date(2026, 11, 1)


def timed(env, func):
    """Seconds taken by ``func()`` including the flush and the pre-commit work (tracking)."""
    started = time.perf_counter()
    result = func()
    env.flush_all()
    env.cr.precommit.run()
    env.flush_all()
    return time.perf_counter() - started, result


def prepare_company(env):
    company, _gst = configure_bench_company(env, "REV-")
    company.write({"rebilling_payment_term_days": 14, "rebilling_auto_invoice": True})
    company.rebilling_sender_confirmed = True
    return company


def create_customers(env, company, count):
    gst = env["account.tax"].search(
        [("company_id", "=", company.id), ("type_tax_use", "=", "sale"), ("amount", "=", 10)],
        limit=1,
    )
    Product = env["product.product"]
    products = Product.create(
        [
            {"name": name, "list_price": price, "type": "service", "taxes_id": gst.ids}
            for name, price in (("NBN 100/40", 99.0), ("PBX seat", 25.0), ("Static IP", 10.0))
        ]
    )
    cls = env["rebilling.customer.class"].create(
        {
            "name": "Bench enterprise",
            "send_policy": "review",
            "review_hold_days": 5,
            "payment_term_days": 21,
        }
    )
    partners = env["res.partner"].create(
        [
            {
                "name": f"Bench customer {i:05d}",
                "is_company": True,
                "email": f"c{i}@bench.example.com",
                "rebilling_enabled": True,
                "rebilling_class_id": cls.id,
            }
            for i in range(count)
        ]
    )
    env["rebilling.service"].create(
        [
            {
                "partner_id": partner.id,
                "product_id": product.id,
                "quantity": 1 + i % 4,
                "date_start": date(2026, 1, 1),
            }
            for i, partner in enumerate(partners)
            for product in products
        ]
    )
    return partners, products, gst


def create_voice(env, company, partners, gst):
    """A usage-only voice service per customer (number +61 2 8xxx xxxx), a plan, a format."""
    voice = env["product.product"].create(
        {
            "name": "Voice usage",
            "type": "service",
            "rebilling_service_type": "voice",
            "taxes_id": gst.ids,
        }
    )
    from odoo import Command

    rate = {"rate_per_minute": 0.12, "first_block": 30, "next_block": 1}
    groups = env["rebilling.destination.group"].search([])
    plan = env["rebilling.rate.plan"].create(
        {
            "name": "Bench review plan",
            "company_id": company.id,
            "rate_ids": [Command.create(dict(rate, destination_group_id=g.id)) for g in groups],
        }
    )
    company.write({"rebilling_rate_plan_id": plan.id, "rebilling_voice_product_id": voice.id})
    env["rebilling.service"].create(
        [
            {
                "partner_id": partner.id,
                "product_id": voice.id,
                "price_unit": 0.0,
                "date_start": date(2026, 1, 1),
                "identifiers": caller(i),
            }
            for i, partner in enumerate(partners)
        ]
    )
    return env["rebilling.cdr.format"].create(
        {"name": "Bench review CSV", "company_id": company.id, "column_count": 6}
    )


def caller(i):
    return f"+6128{i:07d}"


def import_calls(env, fmt, count, per_customer, first_day, tag):
    """``per_customer`` October calls of each customer to mobiles, from ``first_day``."""
    lines = ["start_time,duration,caller,called,call_id,cost"]
    for i in range(count):
        for j in range(per_customer):
            day = first_day + j % (31 - first_day + 1)
            lines.append(
                f"2026-10-{day:02d} {8 + j % 10:02d}:{i % 60:02d}:{j % 60:02d},"
                f"{30 + (i + j) % 300},{caller(i)},04{(i * 97 + j) % 100000000:08d},"
                f"{tag}{i}-{j},0.01"
            )
    content = ("\n".join(lines) + "\n").encode()
    imp = env["rebilling.cdr.import"]._import_file(fmt, content, f"{tag}.csv")
    if imp.imported_count != count * per_customer:
        sys.exit(f"expected {count * per_customer} calls imported, got {imp.imported_count}")
    return imp


def draft_invoices(env, company, partners, products, gst):
    from odoo import Command

    journal = env["account.journal"].search(
        [("type", "=", "sale"), ("company_id", "=", company.id)], limit=1
    )
    return env["account.move"].create(
        [
            {
                "move_type": "out_invoice",
                "journal_id": journal.id,
                "partner_id": partner.id,
                "invoice_date": PERIOD,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "quantity": 1 + i % 4,
                            "price_unit": product.list_price,
                            "tax_ids": [Command.set(gst.ids)],
                        }
                    )
                    for product in products
                ],
            }
            for i, partner in enumerate(partners)
        ]
    )


def reissue_at_off_peak(env, moves):
    """The approver's Reissue wizard (at the off-peak hour), then, at that hour, the cron.

    Time is moved to the off-peak hour (freezegun, ticking: the timing stays real).
    """
    from freezegun import freeze_time

    wizard = env["rebilling.review.reissue.wizard"].create(
        {"move_ids": [(6, 0, moves.ids)], "when": "off_peak"}
    )
    wizard.action_reissue()
    env.flush_all()
    off_peak = max(moves.mapped("rebilling_reissue_at")) + timedelta(minutes=1)
    Move = env["account.move"].with_context(queue_job__no_delay=True)
    with freeze_time(off_peak, tick=True):
        return timed(env, Move._cron_rebilling_review_reissue)


def bench(db, count, calls, late):
    import odoo

    with bench_env(db) as env:
        env = env(context={})
        company = prepare_company(env)
        admin = env.ref("base.user_admin")
        if not admin.has_group("rebilling_review.group_rebilling_approver"):
            sys.exit("base.user_admin is expected in the Rebilling approver group")
        env = env(user=admin, context={"allowed_company_ids": [company.id]})
        partners, products, gst = create_customers(env, company, count)
        fmt = create_voice(env, company, partners, gst)
        import_calls(env, fmt, count, calls, 1, "OCT")
        env.flush_all()

        run = env["rebilling.billing.run"]._get_or_create(company, PERIOD)
        run_time, _res = timed(
            env, lambda: run.with_context(queue_job__no_delay=True).action_start()
        )
        moves = env["account.move"].search(
            [("rebilling_run_id", "=", run.id), ("rebilling_review_state", "=", "under_review")]
        )
        if len(moves) != count:
            sys.exit(f"expected {count} invoices under review, found {len(moves)}")
        Cdr = env["rebilling.cdr"]
        before = Cdr.search_count([("invoice_id", "in", moves.ids)])
        if before != count * calls:
            sys.exit(f"expected {count * calls} calls billed by the run, found {before}")

        import_calls(env, fmt, count, late, 25, "LATE")
        reissue_time, _res = reissue_at_off_peak(env, moves)
        states = set(moves.mapped("rebilling_review_state"))
        if states != {"under_review"}:
            sys.exit(f"expected every invoice reissued, found review states {states}")
        after = Cdr.search_count([("invoice_id", "in", moves.ids)])
        if after != count * (calls + late):
            sys.exit(f"expected {count * (calls + late)} calls on the invoices, found {after}")

        approve_time, _res = timed(env, moves.action_rebilling_review_approve)
        queued = moves.filtered(lambda m: m.rebilling_send_state == "queued")
        if len(queued) != count:
            sys.exit(f"expected {count} queued invoices, found {len(queued)}")

        drafts = draft_invoices(env, company, partners, products, gst)
        env.flush_all()
        post_time, _res = timed(env, drafts.action_post)
        if set(drafts.mapped("state")) != {"posted"}:
            sys.exit("the drafts were not all posted")

    version = odoo.release.version
    print(
        f"\nrebilling_review bench: {count} invoices of {len(products)} service lines and "
        f"{calls} calls ({calls + late} after the late CDRs), Odoo {version}"
    )
    rows = [
        (f"billing run, {count} customers under review", run_time),
        (f"off-peak reissue of the {count} invoices", reissue_time),
        (f"approve {count} invoices under review, one action", approve_time),
        (f"action_post of {count} draft invoices", post_time),
    ]
    for label, seconds in rows:
        print(f"  {label:<52} {seconds:8.2f} s  {seconds * 1000 / count:8.2f} ms/invoice")
    print(f"  approve costs {approve_time / post_time:.1%} of a plain post")
    print(f"  the off-peak reissue costs {reissue_time / run_time:.1%} of the billing run")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="invoices (default 1000)")
    parser.add_argument("--calls", type=int, default=20, help="calls per customer (default 20)")
    parser.add_argument("--late", type=int, default=5, help="late calls per customer (default 5)")
    parser.add_argument("--db", default=DB, help="database name")
    parser.add_argument("--rebuild", action="store_true", help="drop and build the database")
    parser.add_argument(
        "--no-update", action="store_true", help="reuse an existing database as it is"
    )
    add_smoke_argument(parser, count=2, calls=2, late=1)
    args = parse_bench_args(parser)
    ensure_database(args.db, MODULES, rebuild=args.rebuild, update=not args.no_update)
    bench(args.db, args.count, args.calls, args.late)


if __name__ == "__main__":
    main()
