#!/usr/bin/env python3
"""The demo command: a demo database with every rebilling addon, its month's run, Odoo served.

    python3 setup/demo.py              # rebuild the demo database, bill, serve on 127.0.0.1:8069
    python3 setup/demo.py --no-serve   # the same without serving
    python3 setup/demo.py --keep-db    # reuse the existing demo database

Login: admin / admin. The demo reseller is "Southern Cross Communications".
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import time

from common import ADDONS, ROOT, drop_database, fail, odoo_server_script, prepare, say, write_config

DEMO_DB = os.environ.get("REBILLING_DEMO_DB", "rebilling_demo")
# One demo mailbox does not exist, so the email summary shows a failure.
BOUNCING = "accounts@koalakidschildcare.example.com"

# Runs inside "odoo shell": bill the month of the demo company and print a summary.
DEMO_RUN = """
from datetime import date
company = env["res.company"].search([("name", "=", "Southern Cross Communications")], limit=1)
period = date.today().replace(day=1)
Run = env["rebilling.billing.run"].with_company(company)
run = Run._get_or_create(company, period)
run._prepare_lines()
run._process_pending(commit=True)
env["account.move"]._cron_account_move_send(job_count=1000)
env.cr.commit()
env["mail.mail"].process_email_queue()
env.cr.commit()
moves = run.invoice_ids
print("=" * 72)
print(f"Demo company : {company.name}")
print(f"Billing run  : {run.name} ({run.state}), invoices dated {run.period_start}")
print(f"Customers    : {run.customer_count}  invoices: {run.invoice_count}  "
      f"errors: {run.error_count}  duration: {run.duration:.1f} s")
print(f"Total        : {run.amount_total:,.2f} {company.currency_id.name} (incl. GST)")
states = {}
for move in moves:
    states[move.rebilling_send_state] = states.get(move.rebilling_send_state, 0) + 1
print(f"Sending      : {states}")
if "rebilling_review_state" in moves._fields:
    held = moves.filtered(lambda m: m.rebilling_review_state == "under_review")
    print(f"Under review : {len(held)} (customers of the Pilot class; approve them in Rebilling)")
for move in moves.filtered("rebilling_send_error"):
    print(f"  not sent: {move.name} {move.partner_id.name}: {move.rebilling_send_error}")
for move in moves.sorted("name")[:5]:
    print(f"  {move.name:12} {move.partner_id.name:28} {move.amount_total:>10,.2f}")
print("=" * 72)
"""


def load_fake_smtp():
    """The project's fake SMTP server (a plain module, loaded without its addon)."""
    path = ROOT / "rebilling_base" / "tests" / "fakes" / "fake_smtp.py"
    spec = importlib.util.spec_from_file_location("rebilling_fake_smtp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FakeSMTP


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-serve", action="store_true", help="do not start the server")
    parser.add_argument("--keep-db", action="store_true", help="reuse the demo database")
    parser.add_argument("--port", default=os.environ.get("REBILLING_DEMO_PORT", "8069"))
    args = parser.parse_args()

    prepare()
    config = write_config("local", http_port=args.port)
    server = odoo_server_script()
    started = time.monotonic()
    try:
        if not args.keep_db:
            drop_database(DEMO_DB)
            subprocess.run(
                [
                    *server,
                    "-c",
                    str(config),
                    "-d",
                    DEMO_DB,
                    "-i",
                    ",".join(["l10n_au", *ADDONS]),
                    "--with-demo",
                    "--stop-after-init",
                    "--log-level=warn",
                ],
                check=True,
                cwd=ROOT,
            )
            say(f"demo database {DEMO_DB} built in {time.monotonic() - started:.0f} s")
        with load_fake_smtp()(reject=[BOUNCING]) as smtp:
            subprocess.run(
                [*server, "shell", "-c", str(config), "-d", DEMO_DB, "--no-http"]
                + ["--log-level=error", "--smtp=127.0.0.1", f"--smtp-port={smtp.port}"],
                input=DEMO_RUN,
                text=True,
                check=True,
                cwd=ROOT,
            )
            say(f"local mail sink received {len(smtp.messages)} emails (nothing left the machine)")
    except subprocess.CalledProcessError as exc:
        fail(f"demo build failed (exit {exc.returncode}): {' '.join(map(str, exc.cmd[:6]))} ...")
    say(f"demo ready in {time.monotonic() - started:.0f} s")
    if args.no_serve:
        return
    say(f"serving http://127.0.0.1:{args.port}/odoo (login admin / admin); Ctrl-C stops")
    os.execv(sys.executable, [*server, "-c", str(config), "-d", DEMO_DB, "--db-filter", DEMO_DB])


if __name__ == "__main__":
    main()
