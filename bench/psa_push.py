#!/usr/bin/env python3
"""Push 2,000 invoice lines to the fake Autotask and ConnectWise: calls per line, budget share.

    python3 bench/psa_push.py [--lines 2000] [--customers 100] [--system both]
                              [--time-factor 0.001] [--kill] [--rebuild]
                              [--db rebilling_psa_bench] [--smoke]

Builds (once) the database ``rebilling_psa_bench`` with ``rebilling_autotask`` and
``rebilling_connectwise`` and ``--customers`` posted invoices holding ``--lines`` lines
of a VoIP service in all (some with a fractional quantity whose subtotal rounds), and
the month's credit notes (Odoo's reversal of every tenth invoice). Then, for each
system, over real HTTP on 127.0.0.1:

1. starts the fake (Autotask: 3 threads per entity, 10,000 calls an hour; ConnectWise:
   the backend's 60 a minute), both windows scaled by ``--time-factor``; connects a
   backend, seeds one company and contract (agreement) per customer and a product,
   pulls them and maps the customers;
2. pushes every line through the queue-job code path (jobs run inline).

It prints the API calls per line and the share of the hourly budget they take, and
checks one remote item and one binding per line. Then the fake runs its billing
(ConnectWise: the agreement cycle of the month; Autotask: Approve and Post) and the
bench prints, for the whole month, the untaxed total of the invoices and credit notes
in Odoo and what the PSA billed: they must be equal to the cent. With ``--kill`` the push runs in a
child process that is killed (SIGKILL) half-way, then the lines are pushed again: the
check must still find one remote item per line.
"""

import argparse
import os
import signal
import subprocess
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

DB = "rebilling_psa_bench"
MODULES = ["rebilling_autotask", "rebilling_connectwise"]
INVOICE_DATE = date(2026, 10, 1)
CREDIT_DATE = date(2026, 10, 20)
MONTH_END = date(2026, 10, 31)
AUTOTASK_HOURLY = 10000
FAST = {"connect_timeout": 2.0, "read_timeout": 5.0, "retry_backoff": 0.05, "max_retry_after": 5.0}


# ------------------------------------------------------------------ data
def build(env, customers, lines):
    """``customers`` customers, one wholesale service each, one posted invoice each."""
    from odoo import Command

    Move = env["account.move"]
    if Move.search_count([("ref", "=", "psa-bench"), ("state", "=", "posted")]):
        return
    company, gst = configure_bench_company(env, "PB-")
    # Rebilling companies round GST per line (issue 21 "one total", as Xero and the PSAs,
    # which bill line amounts): an invoice's untaxed total is the sum of its lines.
    company.tax_calculation_rounding_method = "round_per_line"
    product = env["product.product"].create(
        {
            "name": "Bench SIP trunk",
            "list_price": 49.0,
            "type": "service",
            "rebilling_service_type": "wholesale",
            "taxes_id": [Command.set(gst.ids)],
        }
    )
    partners = env["res.partner"].create(
        [
            {"name": f"PSA bench customer {i:04d}", "is_company": True, "rebilling_enabled": True}
            for i in range(customers)
        ]
    )
    services = env["rebilling.service"].create(
        [
            {
                "partner_id": p.id,
                "product_id": product.id,
                "service_type": "wholesale",
                "date_start": date(2026, 1, 1),
            }
            for p in partners
        ]
    )
    per_invoice = max(1, lines // customers)
    moves = Move.with_company(company).create(
        [
            {
                "move_type": "out_invoice",
                "partner_id": service.partner_id.id,
                "invoice_date": INVOICE_DATE,
                "ref": "psa-bench",
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "name": f"SIP trunk usage {n}",
                            # 1.5 x 10.33 = 15.495: rounded to 15.50 by Odoo.
                            "quantity": 1 + n % 5 + (0.5 if n % 3 == 0 else 0.0),
                            "price_unit": 49.0 if n % 2 else 10.33,
                            "tax_ids": [Command.set(gst.ids)],
                            "rebilling_service_id": service.id,
                        }
                    )
                    for n in range(per_invoice)
                ],
            }
            for service in services
        ]
    )
    moves.action_post()
    # The month's credit notes: Odoo's reversal (its lines carry no service) of every
    # tenth invoice, dated in the month.
    credited = moves[::10]
    credit_notes = credited._reverse_moves(
        [
            {"invoice_date": CREDIT_DATE, "date": CREDIT_DATE, "ref": "psa-bench"}
            for _move in credited
        ]
    )
    credit_notes.action_post()
    print(
        f"  built {len(moves)} invoices, {per_invoice * len(moves)} lines, "
        f"{len(credit_notes)} credit notes",
        flush=True,
    )


def bench_records(env):
    moves = env["account.move"].search([("ref", "=", "psa-bench"), ("state", "=", "posted")])
    services = moves.invoice_line_ids.rebilling_service_id
    return moves, services


# ------------------------------------------------------------------ systems
class Autotask:
    name = "autotask"
    contract_field, product_field = "autotask_contract_id", "autotask_product_id"
    partner_field = "rebilling_autotask_company_id"

    @staticmethod
    def fake(time_factor):
        from odoo.addons.rebilling_autotask.fakes import FakeAutotask

        fake = FakeAutotask(thread_limit=3)
        fake.set_rate_limit(AUTOTASK_HOURLY, 3600.0 * time_factor)
        return fake

    @staticmethod
    def values(fake):
        return {
            "username": fake.username,
            "autotask_secret": fake.secret,
            "autotask_integration_code": fake.integration_code,
            "autotask_zone_url": fake.zone_url,
        }

    @staticmethod
    def connect(backend):
        return backend.action_autotask_connect()

    @staticmethod
    def seed(fake, partners):
        code = fake.add_billing_code("Bench material", unitCost=1.0, unitPrice=2.0)
        product = fake.add_product(
            "Bench SIP trunk", unitCost=20.0, unitPrice=49.0, productBillingCodeID=code["id"]
        )
        pairs = []
        for partner in partners:
            company = fake.add_company(partner.name)
            contract = fake.add_contract(company["id"], f"{partner.name} VoIP")
            pairs.append((partner, company["id"], contract["id"]))
        return product["id"], pairs

    @staticmethod
    def items(fake):
        return [(c["contractID"], c["notes"]) for c in fake.charges()]

    @staticmethod
    def bill(fake):
        """Approve and Post the month's charges; what it billed."""
        fake.approve_and_post(until=MONTH_END)
        return fake.billed_total()

    creates = ("POST", r"/Contracts/\d+/Charges$")
    hourly_budget = AUTOTASK_HOURLY


class ConnectWise:
    name = "connectwise"
    contract_field, product_field = "connectwise_agreement_id", "connectwise_product_id"
    partner_field = "rebilling_connectwise_company_id"

    @staticmethod
    def fake(time_factor):
        from odoo.addons.rebilling_connectwise.fakes import FakeConnectWise

        return FakeConnectWise(rate_limit=60, rate_window=60.0 * time_factor)

    @staticmethod
    def values(fake):
        return {
            "connectwise_company_id": fake.company_id,
            "connectwise_site_url": fake.base_url,
            "connectwise_public_key": fake.public_key,
            "connectwise_private_key": fake.private_key,
            "client_id": fake.client_id,
        }

    @staticmethod
    def connect(backend):
        return backend.action_connectwise_connect()

    @staticmethod
    def seed(fake, partners):
        product = fake.add_product("SIP", "Bench SIP trunk", price=49.0, cost=20.0)
        pairs = []
        for n, partner in enumerate(partners):
            company = fake.add_company(f"PB{n:04d}", partner.name)
            agreement = fake.add_agreement(f"{partner.name} voice", company["id"])
            pairs.append((partner, company["id"], agreement["id"]))
        return product["id"], pairs

    @staticmethod
    def items(fake):
        return [(a["agreementId"], a.get("description")) for a in fake.additions()]

    @staticmethod
    def bill(fake):
        """Run the agreement billing cycle of the month; what it billed."""
        fake.run_billing_cycle(INVOICE_DATE)
        return fake.billed_total(INVOICE_DATE)

    creates = ("POST", r"additions$")
    # No published limit: the backend's own 60 calls a minute.
    hourly_budget = 3600


SYSTEMS = {"autotask": Autotask, "connectwise": ConnectWise}


def setup_backend(env, system, fake, time_factor):
    """A fresh connected backend of ``system`` on ``fake``, customers mapped, services linked."""
    Backend = env["rebilling.backend"].with_context(active_test=False)
    moves, services = bench_records(env)
    services.write({system.contract_field: False, system.product_field: False})
    services.partner_id.write({system.partner_field: False})
    old = Backend.search([("backend_type", "=", system.name)])
    for model in ("rebilling.binding", "rebilling.sync.log", "rebilling.external.record"):
        env[model].with_context(active_test=False).search([("backend_id", "in", old.ids)]).unlink()
    old.unlink()
    backend = Backend.create(
        {
            "backend_type": system.name,
            "company_id": env.ref("base.main_company").id,
            **system.values(fake),
        }
    )
    backend.write(dict(FAST, time_factor=time_factor, auto_push=False))
    action = system.connect(backend)
    assert backend.state == "connected", action["params"]["message"]
    product_id, pairs = system.seed(fake, services.partner_id)
    backend.action_psa_pull()
    Record = env["rebilling.external.record"]

    def record(kind, external_id):
        domain = [("backend_id", "=", backend.id), ("kind", "=", kind)]
        return Record.search([*domain, ("external_id", "=", external_id)])

    contract_kind = "contract" if system is Autotask else "agreement"
    product = record("product", product_id)
    by_partner = {partner: (company, contract) for partner, company, contract in pairs}
    for service in services:
        company, contract = by_partner[service.partner_id]
        service.partner_id[system.partner_field] = record("company", company)
        contract_record = record(contract_kind, contract)
        service.write({system.contract_field: contract_record.id, system.product_field: product.id})
    return backend, backend._psa_lines(moves)


def push(backend, lines):
    backend.with_context(queue_job__no_delay=True)._rebilling_enqueue_push(lines)


def check(env, system, fake, backend, lines):
    items = system.items(fake)
    markers = [marker for _parent, marker in items]
    bound = env["rebilling.binding"].search_count(
        [
            ("backend_id", "=", backend.id),
            ("res_model", "=", "account.move.line"),
            ("external_id", "!=", False),
            ("sync_state", "=", "done"),
        ]
    )
    return len(items), len(set(markers)), bound


# ------------------------------------------------------------------ runs
def run(system, args):
    fake = system.fake(args.time_factor)
    fake.start()
    try:
        with bench_env(args.db, commit=True) as env:
            backend, lines = setup_backend(env, system, fake, args.time_factor)
            backend_id, line_ids = backend.id, lines.ids
        fake.clear_requests()
        started = time.monotonic()
        killed_after = None
        if args.kill:
            child = subprocess.Popen(
                [sys.executable, __file__, "--db", args.db, "--child", system.name]
                + ["--backend", str(backend_id)]
            )
            half = len(line_ids) // 2
            while fake.request_count(*system.creates) < half and child.poll() is None:
                time.sleep(0.02)
            killed_after = fake.request_count(*system.creates)
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            time.sleep(1.0)  # PostgreSQL ends the dead worker's transaction
        with bench_env(args.db, commit=True) as env:
            backend = env["rebilling.backend"].browse(backend_id)
            lines = env["account.move.line"].browse(line_ids)
            push(backend, lines)
            seconds = time.monotonic() - started
        # A new transaction: the bindings were committed by the connector's own ones.
        with bench_env(args.db) as env:
            backend = env["rebilling.backend"].browse(backend_id)
            lines = env["account.move.line"].browse(line_ids)
            items, distinct, bound = check(env, system, fake, backend, lines)
        calls = len(fake.requests)
        creates = fake.request_count(*system.creates)
        limited = fake.request_count(status=429)
        with bench_env(args.db) as env:
            moves, _services = bench_records(env)
            odoo_untaxed = round(sum(moves.mapped("amount_untaxed_signed")), 2)
            lines_sum = round(
                sum(
                    line.price_subtotal * -line.move_id.direction_sign
                    for line in moves.invoice_line_ids
                ),
                2,
            )
            odoo_total = round(sum(moves.mapped("amount_total_signed")), 2)
            refunds = len(moves.filtered(lambda m: m.move_type == "out_refund"))
        billed = system.bill(fake)
    finally:
        fake.stop()
    n = len(line_ids)
    print("=" * 72)
    print(f"{system.name}: {n} invoice lines" + (" (--kill)" if args.kill else ""))
    if killed_after is not None:
        print(f"  worker killed after   : {killed_after} creates answered")
    print(f"  API calls             : {calls} ({creates} creates, {limited} answered 429)")
    print(f"  calls per line        : {calls / max(1, n):.2f}")
    print(
        f"  hourly budget used    : {calls / system.hourly_budget:.1%} of "
        f"{system.hourly_budget:,} calls an hour"
    )
    print(f"  duration              : {seconds:.1f} s ({n / seconds:.0f} lines/s)")
    print(f"  remote items          : {items} (distinct markers {distinct}), bindings {bound}")
    ok = items == distinct == bound == n
    print("  exactly once          : " + ("yes" if ok else "NO"))
    print(f"  month in Odoo         : {len(moves) - refunds} invoices, {refunds} credit notes")
    print(f"  Odoo untaxed total    : {odoo_untaxed:,.2f} (with GST {odoo_total:,.2f})")
    print(f"  Odoo lines' subtotals : {lines_sum:,.2f}")
    label = f"{system.name} billed"
    print(f"  {label:<22}: {billed:,.2f} (after its billing cycle)")
    equal = round(billed - odoo_untaxed, 2) == 0
    print("  equal to the cent     : " + ("yes" if equal else f"NO ({billed - odoo_untaxed:+.2f})"))
    return ok and equal


def child(db, system_name, backend_id):
    """The job worker of ``--kill``: pushes every line, until it is killed."""
    with bench_env(db, commit=True) as env:
        backend = env["rebilling.backend"].browse(backend_id)
        moves, _services = bench_records(env)
        push(backend, backend._psa_lines(moves))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--system", choices=["autotask", "connectwise", "both"], default="both")
    parser.add_argument(
        "--time-factor", type=float, default=0.001, help="scales the APIs' rate windows"
    )
    parser.add_argument("--kill", action="store_true", help="kill -9 the pushing worker half-way")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the database")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--backend", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", default=DB, help="database (built when missing)")
    add_smoke_argument(parser, lines=6, customers=2)
    args = parse_bench_args(parser)
    if args.child:
        return child(args.db, args.child, args.backend)

    ensure_database(args.db, MODULES, rebuild=args.rebuild)
    with bench_env(args.db, commit=True) as env:
        build(env, args.customers, args.lines)
    names = ["autotask", "connectwise"] if args.system == "both" else [args.system]
    results = [run(SYSTEMS[name], args) for name in names]
    print("=" * 72)
    if not all(results):
        print("ERROR: not every line was pushed exactly once", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
