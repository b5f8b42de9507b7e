#!/usr/bin/env python3
"""The reconciliation's API calls for 2,000 invoices, per system (goal: one call per 100).

    python3 bench/reconcile.py [--invoices 2000] [--system all|xero|autotask|connectwise]
                               [--time-factor 0.001] [--rebuild]
                               [--db rebilling_reconcile_bench] [--smoke]

Builds (once) the database ``rebilling_reconcile_bench`` with the three connectors and
the data of ``bench/xero_push.py`` (``--invoices`` customers billed by a run of one
month) and of ``bench/psa_push.py`` (``--invoices`` one-line invoices, one customer,
company and contract/agreement each). Then, over real HTTP on 127.0.0.1, for each
system: connects a backend to a fresh fake, pushes the month (jobs inline), changes
two documents in the fake (one voided or not billable, one with another total) and
runs the month's reconciliation. It prints the API calls of the reconciliation alone,
the documents per call, and what it found (it must find exactly the two changes).
"""

import argparse
import importlib.util
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.bench_support import add_smoke_argument, bench_env, ensure_database, parse_bench_args

HERE = Path(__file__).resolve().parent
DB = "rebilling_reconcile_bench"
MODULES = ["rebilling_xero_sync", "rebilling_autotask", "rebilling_connectwise"]


def sibling(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def month_run(env, moves):
    """The done billing run of the month of ``moves`` (made for the PSA bench's invoices)."""
    Run = env["rebilling.billing.run"]
    day = min(moves.mapped("invoice_date")).replace(day=1)
    company = moves.company_id[:1]
    run = Run.search([("company_id", "=", company.id), ("period_start", "=", day)], limit=1)
    if not run:
        run = Run.create({"company_id": company.id, "period_start": day})
    run.state = "done"
    return run


def report(system, run, backend, calls, found, documents):
    kinds = sorted((line.kind, line.reference) for line in found)
    print(
        f"{system:<11}: {documents} documents read back in {calls} API calls "
        f"({documents / max(1, calls):.0f} per call; goal >= 100) -> found {len(found)}: "
        f"{', '.join(k for k, _r in kinds)}",
        flush=True,
    )
    return calls


def bench_xero(args):
    xero_push = sibling("xero_push")
    with bench_env(args.db, commit=True) as env:
        xero_push.build_invoices(env, args.invoices, args.invoices)
    from odoo.addons.rebilling_xero_sync.fakes import FakeXero

    window = 60.0 * args.time_factor
    with (
        FakeXero(minute_limit=60, window=window, concurrent_limit=5) as xero,
        bench_env(args.db) as env,
    ):
        backend = xero_push.connect(env, xero, args.time_factor)
        run = env["rebilling.billing.run"].search(
            [("dry_run", "=", False), ("invoice_ids", "!=", False)], order="period_start", limit=1
        )
        moves = run._rebilling_reconcile_moves()
        backend.with_context(queue_job__no_delay=True)._rebilling_enqueue_push(moves)
        first, second = moves[:2]
        xero.add_invoice(InvoiceID=first.rebilling_xero_invoice_id, Status="VOIDED")
        old = xero.get_invoice(second.name)["LineItems"][0]
        line = {k: old[k] for k in ("Description", "Quantity", "AccountCode", "TaxType")}
        line["UnitAmount"] = old["UnitAmount"] + 1
        xero.add_invoice(InvoiceID=second.rebilling_xero_invoice_id, LineItems=[line])
        xero.clear_requests()
        started = time.monotonic()
        found = env["rebilling.reconcile.line"].create(
            backend._rebilling_reconcile_lines(run, moves)
        )
        seconds = time.monotonic() - started
        calls = [r for r in xero.requests if r.path.lower().startswith("/api.xro")]
        print(f"xero       : reconciled in {seconds:.1f} s", flush=True)
        return report("xero", run, backend, len(calls), found, len(moves))


def bench_psa(args, name):
    psa_push = sibling("psa_push")
    system = {"autotask": psa_push.Autotask, "connectwise": psa_push.ConnectWise}[name]
    with bench_env(args.db, commit=True) as env:
        psa_push.build(env, args.invoices, args.invoices)
    fake = system.fake(args.time_factor)
    fake.start()
    try:
        with bench_env(args.db, commit=True) as env:
            backend, lines = psa_push.setup_backend(env, system, fake, args.time_factor)
            backend_id, line_ids = backend.id, lines.ids
        with bench_env(args.db, commit=True) as env:
            backend = env["rebilling.backend"].browse(backend_id)
            psa_push.push(backend, env["account.move.line"].browse(line_ids))
        with bench_env(args.db) as env:
            backend = env["rebilling.backend"].browse(backend_id)
            lines = env["account.move.line"].browse(line_ids)
            moves = lines.move_id
            run = month_run(env, moves)
            items = sorted(
                fake.records("ContractCharges" if name == "autotask" else "additions"),
                key=lambda item: item["id"],
            )
            if name == "autotask":
                fake.edit_charge(items[0]["id"], isBillableToCompany=False)
                fake.edit_charge(items[1]["id"], unitPrice=items[1]["unitPrice"] + 1)
            else:
                fake.edit_addition(items[0]["id"], billCustomer="DoNotBill")
                fake.edit_addition(items[1]["id"], unitPrice=items[1]["unitPrice"] + 1)
            fake.clear_requests()
            started = time.monotonic()
            moves = run._rebilling_reconcile_moves()
            found = env["rebilling.reconcile.line"].create(
                backend._rebilling_reconcile_lines(run, moves)
            )
            seconds = time.monotonic() - started
            print(f"{name:<11}: reconciled in {seconds:.1f} s", flush=True)
            return report(name, run, backend, len(fake.requests), found, len(items))
    finally:
        fake.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument(
        "--system", choices=["all", "xero", "autotask", "connectwise"], default="all"
    )
    parser.add_argument("--time-factor", type=float, default=0.001)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the database")
    parser.add_argument("--db", default=DB, help="database (built when missing)")
    add_smoke_argument(parser, invoices=3)
    args = parse_bench_args(parser)
    ensure_database(args.db, MODULES, rebuild=args.rebuild)
    systems = ["xero", "autotask", "connectwise"] if args.system == "all" else [args.system]
    print("=" * 72, flush=True)
    for name in systems:
        if name == "xero":
            bench_xero(args)
        else:
            bench_psa(args, name)
    print("=" * 72)


if __name__ == "__main__":
    main()
