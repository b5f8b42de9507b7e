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
import time
import urllib.request

from common import ADDONS, ROOT, drop_database, fail, odoo_server_script, prepare, say, write_config

DEMO_DB = os.environ.get("REBILLING_DEMO_DB", "rebilling_demo")
# One demo mailbox does not exist, so the email summary shows a failure.
BOUNCING = "accounts@koalakidschildcare.example.com"

# Runs inside "odoo shell": bill the month of the demo company and print a summary.
DEMO_RUN = """
from datetime import date
env["ir.config_parameter"].set_param("report.url", "REPORT_URL")
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
    path = ROOT / "rebilling_base" / "fakes" / "fake_smtp.py"
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
            mail = ["--smtp=127.0.0.1", f"--smtp-port={smtp.port}"]
            # The server runs while the invoices are printed: wkhtmltopdf loads the
            # report styles from it. It keeps serving the demo afterwards.
            serving = subprocess.Popen(
                [*server, "-c", str(config), "-d", DEMO_DB, "--db-filter", DEMO_DB]
                + ["--log-level=warn", "--max-cron-threads=1", *mail],
                cwd=ROOT,
            )
            try:
                wait_for_http(args.port, serving)
                subprocess.run(
                    [*server, "shell", "-c", str(config), "-d", DEMO_DB, "--no-http"]
                    + ["--log-level=error", *mail],
                    input=DEMO_RUN.replace("REPORT_URL", f"http://127.0.0.1:{args.port}"),
                    text=True,
                    check=True,
                    cwd=ROOT,
                )
                say(f"local mail sink received {len(smtp.messages)} emails (none left the machine)")
                say(f"demo ready in {time.monotonic() - started:.0f} s")
                if not args.no_serve:
                    say(
                        f"serving http://127.0.0.1:{args.port}/odoo (login admin / admin); "
                        "emails go to the local mail sink; Ctrl-C stops"
                    )
                    serving.wait()
            finally:
                if serving.poll() is None:
                    serving.terminate()
                    serving.wait(timeout=30)
    except subprocess.CalledProcessError as exc:
        fail(f"demo build failed (exit {exc.returncode}): {' '.join(map(str, exc.cmd[:6]))} ...")
    except KeyboardInterrupt:
        say("stopped")


def wait_for_http(port, process, seconds=120):
    """Wait until Odoo answers on ``port`` (or stop when it died)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"the Odoo server stopped (exit {process.returncode}); is port {port} free?")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/login", timeout=5):
                return
        except OSError:
            time.sleep(1)
    fail(f"the Odoo server did not answer on port {port} within {seconds} s")


if __name__ == "__main__":
    main()
