#!/usr/bin/env python3
"""Push 2,000 invoices to the fake Xero under its 60-calls-a-minute limit, time-scaled.

    python3 bench/xero_push.py [--invoices 2000] [--customers 500] [--time-factor 0.01]
                               [--rebuild] [--db rebilling_xero_bench] [--smoke]

Builds (once) the database ``rebilling_xero_bench`` with ``rebilling_xero_sync`` and
``--invoices`` posted rebilling invoices (``--customers`` customers billed over several
months), then, in one process and over real HTTP on 127.0.0.1:

1. starts a FakeXero whose minute window is 60 s x ``--time-factor`` (60 calls per
   window, 5 at a time), connects the backend to it (tokens, organisation, settings,
   accounts, contact matching and creation);
2. pushes every invoice through the queue-job code path (jobs run inline), with the
   backend's client-side limiter scaled by the same time factor;
3. credits ``--credit-share`` of the last month's invoices (Odoo's "Credit Note"
   button, posted) and pushes those credit notes (Xero credit notes, allocated).

Every customer has a 89.00 service and three 0.04 ones (GST of 0.4 cent each:
rounded per line it is 0.00, rounded on the total 0.01), so the totals show whether
Odoo and Xero round GST the same way.

It prints the invoices per API call, the share of the rate limit used during the
push, and the sum of the month's totals (invoices less credit notes) in Odoo and in
the fake Xero; it checks that every document reached the fake exactly once and that
the sums agree to the cent. The push is rolled back at the end, so the database can be
reused.
"""

import argparse
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.bench_support import (
    add_smoke_argument,
    bench_env,
    configure_bench_company,
    ensure_database,
    parse_bench_args,
)

DB = "rebilling_xero_bench"
MODULES = ["rebilling_base", "rebilling_xero_sync"]
FIRST_PERIOD = date(2026, 1, 1)


def build_invoices(env, customers, invoices):
    """Customers with one service each, billed month after month until ``invoices`` exist."""
    from dateutil.relativedelta import relativedelta

    from odoo import Command

    Move = env["account.move"]
    domain = [("rebilling_period", "!=", False), ("state", "=", "posted")]
    if Move.search_count(domain) >= invoices:
        return
    company, gst = configure_bench_company(env, "XB-")
    product = env["product.product"].create(
        {
            "name": "Bench NBN",
            "list_price": 89.0,
            "type": "service",
            "taxes_id": [Command.set(gst.ids)],
        }
    )
    partners = env["res.partner"].create(
        [
            {
                "name": f"Xero bench customer {i:05d}",
                "email": f"customer{i:05d}@bench.example.com",
                "is_company": True,
                "rebilling_enabled": True,
            }
            for i in range(customers)
        ]
    )
    usage = env["product.product"].create(
        {
            "name": "Bench usage fee",
            "list_price": 0.04,
            "type": "service",
            "taxes_id": [Command.set(gst.ids)],
        }
    )
    env["rebilling.service"].create(
        [
            {"partner_id": p.id, "product_id": product.id, "date_start": FIRST_PERIOD}
            for p in partners
        ]
        + [
            {
                "partner_id": p.id,
                "product_id": usage.id,
                "price_unit": 0.04,
                "name": f"Usage fee {n}",
                "date_start": FIRST_PERIOD,
            }
            for p in partners
            for n in range(3)
        ]
    )
    period = FIRST_PERIOD
    Run = env["rebilling.billing.run"].with_company(company)
    while Move.search_count(domain) < invoices:
        started = time.monotonic()
        run = Run._get_or_create(company, period)
        run._prepare_lines()
        run._process_pending()
        env.cr.commit()
        print(
            f"  billed {period:%B %Y}: {run.invoice_count} invoices in "
            f"{time.monotonic() - started:.0f} s",
            flush=True,
        )
        period += relativedelta(months=1)


def connect(env, xero, time_factor):
    backend = (
        env["rebilling.backend"]
        .with_context(active_test=False)
        .search([("backend_type", "=", "xero")], limit=1)
    )
    vals = {
        "name": "Xero (bench)",
        "active": True,
        "backend_type": "xero",
        "company_id": env.ref("base.main_company").id,
        "api_url": xero.api_url,
        "xero_authorize_url": xero.authorize_url,
        "xero_token_url": xero.token_url,
        "xero_revocation_url": xero.revocation_url,
        "xero_connections_url": xero.connections_url,
        "client_id": xero.client_id,
        "client_secret": xero.client_secret,
        "rate_limit_calls": 60,
        "rate_limit_window": 60.0,
        "rate_limit_concurrent": 5,
        "time_factor": time_factor,
        "retry_backoff": 0.05,
        "max_retry_after": 5.0,
        "batch_size": 50,
    }
    if backend:
        backend.binding_ids.unlink()
        env["rebilling.sync.log"].search([("backend_id", "=", backend.id)]).unlink()
        backend.with_context(active_test=False).xero_tenant_ids.unlink()
        backend.write(vals)
    else:
        backend = env["rebilling.backend"].create(vals)
    backend._xero_store_tokens(xero.issue_tokens())
    backend.with_context(queue_job__no_delay=True)._xero_load_tenants()
    assert backend.state == "connected", backend.state_message
    return backend


def push_credit_notes(env, backend, xero, invoices, args):
    """Credit a share of the last month's invoices (the "Credit Note" button) and push."""
    month = max(invoices.mapped("rebilling_period"))
    last = invoices.filtered(lambda m: m.rebilling_period == month)
    step = max(1, round(1 / args.credit_share)) if args.credit_share > 0 else 0
    chosen = last[::step] if step else last.browse()
    credit_notes = env["account.move"]
    for invoice in chosen:
        wizard = (
            env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"reason": "Bench credit", "journal_id": invoice.journal_id.id})
        )
        credit_notes |= env["account.move"].browse(wizard.refund_moves()["res_id"])
    before = xero.request_count()
    # Posted credit notes go to Xero by themselves (auto push; jobs run inline here).
    credit_notes.with_context(queue_job__no_delay=True).action_post()
    return credit_notes, xero.request_count() - before


def month_totals(env, xero, month, pushed):
    """Sum of the month's totals: invoices less credit notes, in Odoo and in Xero."""
    moves = env["account.move"].search([("rebilling_period", "=", month), ("state", "=", "posted")])
    if moves - pushed:
        print(f"  note: {len(moves - pushed)} documents of {month:%Y-%m} were not pushed")
    names = set(moves.mapped("name"))
    in_xero = [i for i in xero.invoices() if i["InvoiceNumber"] in names]
    notes = [n for n in xero.credit_notes() if n["CreditNoteNumber"] in names]
    return {
        "odoo": round(sum(moves.mapped("amount_total_signed")), 2),
        "odoo_count": len(moves),
        "xero": round(sum(i["Total"] for i in in_xero) - sum(n["Total"] for n in notes), 2),
        "xero_count": len(in_xero) + len(notes),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument(
        "--time-factor",
        type=float,
        default=0.01,
        help="scales Xero's 60 s window (0.01: 60 calls per 0.6 s)",
    )
    parser.add_argument(
        "--credit-share",
        type=float,
        default=0.1,
        help="share of the last month's invoices credited (full credit notes)",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the database")
    parser.add_argument("--db", default=DB, help="database (built when missing)")
    add_smoke_argument(parser, invoices=4, customers=2)
    args = parse_bench_args(parser)

    ensure_database(args.db, MODULES, rebuild=args.rebuild)
    with bench_env(args.db, commit=True) as env:
        build_invoices(env, args.customers, args.invoices)

    from odoo.addons.rebilling_xero_sync.fakes import FakeXero

    window = 60.0 * args.time_factor
    with (
        FakeXero(minute_limit=60, window=window, concurrent_limit=5) as xero,
        bench_env(args.db) as env,
    ):
        started = time.monotonic()
        backend = connect(env, xero, args.time_factor)
        connect_calls = len([r for r in xero.requests if r.path.lower().startswith("/api.xro")])
        connect_seconds = time.monotonic() - started
        invoices = env["account.move"].search(
            [("rebilling_period", "!=", False), ("state", "=", "posted")],
            order="id",
            limit=args.invoices,
        )
        xero.clear_requests()
        started = time.monotonic()
        backend.with_context(queue_job__no_delay=True)._rebilling_enqueue_push(invoices)
        seconds = time.monotonic() - started
        api = [r for r in xero.requests if r.path.lower().startswith("/api.xro")]

        limited = [r for r in api if r.status == 429]
        accepted = len(api) - len(limited)
        pushed = xero.invoices()
        numbers = [inv["InvoiceNumber"] for inv in pushed]
        bound = env["rebilling.binding"].search_count(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", "account.move"),
                ("res_id", "in", invoices.ids),
                ("external_id", "!=", False),
            ]
        )
        credit_notes, credit_calls = push_credit_notes(env, backend, xero, invoices, args)
        month = max(invoices.mapped("rebilling_period"))
        totals = month_totals(env, xero, month, invoices | credit_notes)
        capacity = 60.0 * seconds / window
        print("=" * 72)
        print(
            f"Fake Xero limit   : 60 calls per {window:g} s (60/min x time factor "
            f"{args.time_factor:g}), 5 concurrent"
        )
        print(
            f"Connect + contacts: {connect_calls} API calls in {connect_seconds:.1f} s "
            f"({len(xero.contacts())} contacts in Xero)"
        )
        print(
            f"Invoices pushed   : {len(pushed)} of {len(invoices)} "
            f"(distinct numbers {len(set(numbers))}, bindings {bound})"
        )
        print(f"Push API calls    : {len(api)} ({accepted} accepted, {len(limited)} answered 429)")
        print(f"Invoices per call : {len(invoices) / max(1, len(api)):.1f}")
        print(
            f"Push duration     : {seconds:.1f} s ({len(invoices) / seconds:.0f} invoices/s, "
            "bound by Odoo's own work, not by the limit)"
        )
        print(
            f"Rate limit used   : {accepted / capacity:.1%} of the {capacity:.0f} calls the "
            "scaled limit allowed during the push"
        )
        print(
            f"At Xero's limits  : {accepted} calls = {accepted / 60:.1f} min of the 60/min "
            f"budget, {accepted / 5000:.1%} of the 5,000 daily calls"
        )
        notes = xero.credit_notes()
        allocated = sum(1 for note in notes if note.get("Allocations"))
        print(
            f"Credit notes      : {len(notes)} of {len(credit_notes)} in Xero "
            f"({allocated} allocated to their invoice) in {credit_calls} API calls"
        )
        print(
            f"Month {month:%Y-%m} totals: Odoo {totals['odoo']:,.2f} "
            f"({totals['odoo_count']} documents), fake Xero {totals['xero']:,.2f} "
            f"({totals['xero_count']} documents), difference {totals['odoo'] - totals['xero']:+.2f}"
        )
        print("=" * 72)
        ok = len(pushed) == len(invoices) == len(set(numbers)) == bound
        if not ok:
            print("ERROR: not every invoice was pushed exactly once", file=sys.stderr)
            sys.exit(1)
        if len(notes) != len(credit_notes) or round(totals["odoo"] - totals["xero"], 2):
            print("ERROR: the month's totals differ between Odoo and Xero", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
