#!/usr/bin/env python3
"""The demo command: a demo database with every rebilling addon, its month's run, Odoo served.

    python3 setup/demo.py              # rebuild the demo database, bill, serve on 127.0.0.1:8069
    python3 setup/demo.py --no-serve   # the same without serving
    python3 setup/demo.py --keep-db    # reuse the existing demo database

Login: admin / admin (portal: harbour / harbour, a contact of Harbour Dental Group).
The demo reseller is "Southern Cross Communications".
"""

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.request

from common import (
    ADDONS,
    ROOT,
    add_odoo_argument,
    drop_database,
    fail,
    odoo_server_script,
    pg_connect,
    prepare,
    say,
    write_config,
)

DEMO_DB = os.environ.get("REBILLING_DEMO_DB", "rebilling_demo")
# One demo mailbox does not exist, so the email summary shows a failure.
BOUNCING = "accounts@koalakidschildcare.example.com"

COMPANY = 'env["res.company"].search([("name", "=", "Southern Cross Communications")], limit=1)'

# Runs inside "odoo shell": start the month as the monthly cron does (the chunks are
# queue jobs that the server's job runner executes on its workers).
DEMO_START = f"""
from datetime import date
from dateutil.relativedelta import relativedelta
env["ir.config_parameter"].set_param("report.url", "REPORT_URL")
company = {COMPANY}
run = env["rebilling.billing.run"]._get_or_create(company, PERIOD)
run.action_start()
env.cr.commit()
print("RUN", run.id)
"""

THIS_MONTH = "company._rebilling_local_now().date().replace(day=1)"
LAST_MONTH = f"{THIS_MONTH} - relativedelta(months=1)"

# Between last month's run and this month's: a service entered late.
DEMO_LATE = f"""
print(env["rebilling.demo"]._demo_late_service({COMPANY}))
env.cr.commit()
"""

# After the run: what a reseller's month also holds (rebilling.demo._demo_after_run),
# then the summary. Each expected failure is one line.
DEMO_AFTER = f"""
company = {COMPANY}
run = env["rebilling.billing.run"].search(
    [("company_id", "=", company.id), ("period_start", "=", {THIS_MONTH}), ("dry_run", "=", False)]
)
for line in env["rebilling.demo"]._demo_after_run(run):
    print(line)
env.cr.commit()
"""

DEMO_SUMMARY = f"""
company = {COMPANY}
run = env["rebilling.billing.run"].search(
    [("company_id", "=", company.id), ("period_start", "=", {THIS_MONTH}), ("dry_run", "=", False)]
)
summary = env["rebilling.demo"]._demo_summary(run)
moves = run.invoice_ids
print("=" * 72)
print(f"Demo company : {{company.name}} ({{company.rebilling_tz}})")
print(f"Billing run  : {{run.name}} ({{run.state}}), invoices dated {{run.period_start}}")
print(f"Customers    : {{run.customer_count}}  invoices: {{run.invoice_count}}  "
      f"errors: {{run.error_count}}  duration: {{run.duration:.1f}} s")
print(f"Total        : {{run.amount_total:,.2f}} {{company.currency_id.name}} (incl. GST)")
print(f"Last month   : {{run.previous_amount_total:,.2f}} {{company.currency_id.name}}; "
      f"catch-up lines this month: {{summary['catch_up']}}")
print(f"Sending      : {{summary['states']}}; credit notes: {{summary['credit_notes']}}")
if "rebilling_review_state" in moves._fields:
    held = moves.filtered(lambda m: m.rebilling_review_state == "under_review")
    print(f"Under review : {{len(held)}} (customers of the Pilot class; approve them in Rebilling)")
for partner, reason in summary["failed"].items():
    print(f"  not sent   : {{partner}}: {{reason}}")
for move in moves.sorted("name")[:5]:
    print(f"  {{move.name:12}} {{move.partner_id.name:28}} {{move.amount_total:>10,.2f}}")
print("=" * 72)
"""
# Odoo logs a refused email with its traceback; the demo's refusal is expected.
QUIET = [
    "--log-handler=odoo.addons.mail.models.mail_mail:CRITICAL",
    "--log-handler=odoo.addons.base.models.ir_mail_server:CRITICAL",
]


def wait_for_month(run_id, seconds=900):
    """Wait until the run is done and its emails left (what the job runner and crons do)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn = pg_connect(DEMO_DB)
        try:
            with conn.cursor() as cr:
                cr.execute("SELECT state FROM rebilling_billing_run WHERE id = %s", [run_id])
                state = cr.fetchone()[0]
                cr.execute(
                    "SELECT count(*) FROM account_move WHERE rebilling_run_id = %s "
                    "AND rebilling_send_state = 'queued'",
                    [run_id],
                )
                queued = cr.fetchone()[0]
                cr.execute("SELECT count(*) FROM mail_mail WHERE state = 'outgoing'")
                outgoing = cr.fetchone()[0]
        finally:
            conn.close()
        if state == "done" and not queued and not outgoing:
            return
        time.sleep(2)
    say(f"the month did not finish within {seconds} s (run {state}, {queued} invoices queued)")


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
    add_odoo_argument(parser)
    args = parser.parse_args()
    # Stopped by a signal (kill, a closed terminal), stop the server too: the ``finally``
    # below runs on SystemExit, not on the default SIGTERM/SIGHUP action.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_args: sys.exit(1))

    prepare(odoo_source=args.odoo)
    config = write_config(
        "local",
        http_port=args.port,
        # Odoo's websocket port follows the HTTP port (8069 -> 8072), so that a second
        # demo on another --port does not find its websocket port taken.
        gevent_port=int(args.port) + 3,
        queue_job_channels=(
            "root:4,root.rebilling:2,root.rebilling.send:2,root.rebilling.sync:1,"
            "root.rebilling.rating:2,root.rebilling.review:1"
        ),
    )
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
            # Production's deployment: workers, the queue_job runner and a cron worker.
            # The server also serves wkhtmltopdf the report styles while invoices print.
            serving = subprocess.Popen(
                [*server, "-c", str(config), "-d", DEMO_DB, "--db-filter", f"^{DEMO_DB}$"]
                + ["--log-level=warn", "--workers=3", "--max-cron-threads=1"]
                + ["--load=web,queue_job", "--limit-time-real=900", *mail]
                + QUIET,
                cwd=ROOT,
            )
            try:
                wait_for_http(args.port, serving)
                shell = [*server, "shell", "-c", str(config), "-d", DEMO_DB, "--no-http"]
                shell += ["--log-level=error", *mail, *QUIET]
                report_url = f"http://127.0.0.1:{args.port}"
                for period, name in ((LAST_MONTH, "last month"), (THIS_MONTH, "this month")):
                    script = DEMO_START.replace("REPORT_URL", report_url)
                    out = subprocess.run(
                        shell,
                        input=script.replace("PERIOD", period),
                        text=True,
                        check=True,
                        cwd=ROOT,
                        capture_output=True,
                    ).stdout
                    run_id = int(out.split("RUN", 1)[1].split()[0])
                    say(
                        f"billing run of {name} started as the monthly cron starts it; "
                        "the job runner bills it"
                    )
                    wait_for_month(run_id)
                    if period == LAST_MONTH:
                        subprocess.run(shell, input=DEMO_LATE, text=True, check=True, cwd=ROOT)
                for script in (DEMO_AFTER, DEMO_SUMMARY):
                    subprocess.run(shell, input=script, text=True, check=True, cwd=ROOT)
                say(f"local mail sink received {len(smtp.messages)} emails (none left the machine)")
                say(f"demo ready in {time.monotonic() - started:.0f} s")
                if not args.no_serve:
                    say(
                        f"serving http://127.0.0.1:{args.port}/odoo (login admin / admin; the "
                        f"customer portal: http://127.0.0.1:{args.port}/my, harbour / harbour); "
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
