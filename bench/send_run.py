#!/usr/bin/env python3
"""Billing and emailing invoices on the real server: workers, job runner, fake SMTP.

    python3 bench/send_run.py [--customers 50] [--channels 1,2] [--kill] [--nodes 1]
                              [--rebuild] [--db rebilling_send_bench] [--smoke]

Builds N customers (3 services, 2 charges and a voice service with calls of
last month each, so each invoice has its PDF and its call list XLSX) in a
database of its own (kept between runs), starts the project's fake SMTP server
(rebilling_base/fakes/fake_smtp.py) in this process and Odoo as a subprocess
on 127.0.0.1 with ``--workers``, ``server_wide_modules = web,queue_job``, the
job runner, no cron thread and Odoo's default time limits (120 s real, 60 s
CPU per request). The month is started as the monthly cron starts it, with
Auto Invoice: the billing chunks are jobs, and each invoice gets its send job
(PDF, email) on ``root.rebilling.send``. It waits until every invoice is Sent
or Failed and prints, per number of channels: invoices emailed per second,
seconds per send job and per PDF, bytes per PDF, the 10,000-invoice time this
rate gives, and the watchdog kills found in the server log.

``--kill`` also runs once with busy send-job workers killed by SIGKILL (at 30 %
and 60 % of the invoices sent) and checks what the fake SMTP server received:
every invoice emailed, none missing, and any invoice received more than once
with the same Message-ID every time (the resend of a job killed after the
mail server's "250 OK", before its commit).

``--nodes 2`` also runs the month on two Odoo nodes sharing the database
behind a local TCP load balancer (round robin, as HAProxy in tcp mode): each
node runs its workers and a job runner; queue_job elects one runner master per
database, which sends every job to the balancer, so both nodes run send jobs
(counted per node by the worker that ran them). On one 2-core machine the
nodes share the cores: this proves the deployment, not more speed.

Each job channel gets one more HTTP worker than it runs jobs (``--workers``
defaults to channels + 1): wkhtmltopdf fetches the report styles from the
server itself while a worker renders, so a server whose every worker runs a
job would wait for itself.
"""

import base64
import importlib.util
import os
import sys
import time
import urllib.request
from collections import defaultdict
from datetime import date
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from billing_run import build_customers

from tests.bench_support import (
    ROOT,
    BenchCluster,
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

DB = "rebilling_send_bench"


def load_fake_smtp():
    """The project's fake SMTP server (a plain module, loaded without its addon)."""
    path = ROOT / "rebilling_base" / "fakes" / "fake_smtp.py"
    spec = importlib.util.spec_from_file_location("rebilling_fake_smtp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FakeSMTP


PERIOD = date(2026, 11, 1)
CALLS_PER_CUSTOMER = 12
TIMEOUT = 1800  # seconds, or 2 per invoice when more


def build_voice(env, company, partners):
    """A voice service per customer and calls of last month through the CDR import."""
    from odoo import Command

    gst = company.account_sale_tax_id
    voice = env["product.product"].create(
        {
            "name": "Bench voice usage",
            "type": "service",
            "rebilling_service_type": "voice",
            "taxes_id": [Command.set(gst.ids)],
        }
    )
    ref = env.ref
    plan = env["rebilling.rate.plan"].create(
        {
            "name": "Bench plan",
            "rate_ids": [
                Command.create(
                    {
                        "destination_group_id": ref("rebilling_voip.dest_au_local").id,
                        "flagfall": 0.15,
                    }
                ),
                Command.create(
                    {
                        "destination_group_id": ref("rebilling_voip.dest_au_mobile").id,
                        "rate_per_minute": 0.20,
                    }
                ),
                Command.create(
                    {
                        "destination_group_id": ref("rebilling_voip.dest_au_national").id,
                        "rate_per_minute": 0.10,
                    }
                ),
            ],
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
                "identifiers": f"+612{80000000 + i}",
            }
            for i, partner in enumerate(partners)
        ]
    )
    called = ["0298765432", "0412345678", "0355501234"]
    lines = ["start_time,duration,caller,called,call_id,cost"]
    for i in range(len(partners)):
        for j in range(CALLS_PER_CUSTOMER):
            lines.append(
                f"2026-10-{10 + j % 15:02d} 10:{j:02d}:00,{30 + 17 * j},+612{80000000 + i},"
                f"{called[j % 3]},bench-{i}-{j},0.01"
            )
    fmt = env["rebilling.cdr.format"].create(
        {"name": "Bench CSV", "column_count": 6, "has_header": True}
    )
    wizard = (
        env["rebilling.cdr.import.wizard"]
        .with_context(default_filename="bench.csv")
        .create(
            {
                "format_id": fmt.id,
                "file": base64.b64encode(("\n".join(lines) + "\n").encode()),
                "rate": True,
            }
        )
    )
    wizard.action_import()


def ensure_customers(db, count):
    if check_bench_customers(db, count):
        return
    with Timer() as timer, bench_env(db, commit=True) as env:
        company, partners, _products = build_customers(env, count)
        for i, partner in enumerate(partners):
            partner.email = f"accounts{i}@customer{i}.example.com"
        company.write({"rebilling_auto_invoice": True, "rebilling_tz": "UTC"})
        company.rebilling_sender_confirmed = True
        build_voice(env, company, partners)
    say(f"built {count} customers with calls in {timer.seconds:.0f} s")


def reset_run(db):
    """Remove the period's run, its invoices, emails and jobs: the next run does the same."""
    bench_sql(
        db,
        """
        UPDATE rebilling_charge SET invoice_line_id = NULL WHERE invoice_line_id IS NOT NULL;
        UPDATE rebilling_cdr SET invoice_id = NULL, state = 'rated' WHERE invoice_id IS NOT NULL;
        DELETE FROM mail_mail;
        DELETE FROM mail_message WHERE model = 'account.move';
        DELETE FROM ir_attachment WHERE res_model IN ('account.move', 'mail.message');
        DELETE FROM account_move WHERE rebilling_period IS NOT NULL;
        DELETE FROM rebilling_billing_run;
        DELETE FROM queue_job;
        """,
        fetch=False,
    )


def server(db, channels, workers, smtp_port, log_level="warn", nodes=1):
    """Odoo with workers and the queue_job runner on 127.0.0.1 (``nodes`` of them
    behind a load balancer), mail to ``smtp_port``."""
    bench = BenchCluster(
        db,
        nodes,
        workers=workers,
        queue_job_channels=(
            f"root:{channels},root.rebilling:{channels},root.rebilling.send:{channels}"
        ),
        log_level=log_level,
        smtp_server="127.0.0.1",
        smtp_port=smtp_port,
    )
    # wkhtmltopdf fetches the report styles from this server (the balancer).
    for key in ("web.base.url", "report.url"):
        bench_sql(
            db,
            """INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)
               ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value""",
            [key, bench.url],
            fetch=False,
        )
    return bench


def pdf_over_http(bench, move_ids):
    """Seconds and bytes of the invoice PDFs as the server prints them (logged in)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    body = (
        b'{"jsonrpc":"2.0","params":{"db":"' + bench.db.encode() + b'","login":"admin",'
        b'"password":"admin"}}'
    )
    request = urllib.request.Request(
        f"{bench.url}/web/session/authenticate",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    opener.open(request, timeout=30).read()
    sizes, seconds = [], []
    for move_id in move_ids:
        started = time.perf_counter()
        url = f"{bench.url}/report/pdf/account.account_invoices/{move_id}"
        content = opener.open(url, timeout=300).read()
        seconds.append(time.perf_counter() - started)
        if not content.startswith(b"%PDF"):
            raise SystemExit(f"{url} did not return a PDF")
        sizes.append(len(content))
    return sum(seconds) / len(seconds), sum(sizes) / len(sizes)


def send_states(db, run_id):
    rows = bench_sql(
        db,
        "SELECT rebilling_send_state, count(*) FROM account_move WHERE rebilling_run_id = %s"
        " GROUP BY rebilling_send_state",
        [run_id],
    )
    return dict(rows)


def run_state(db, run_id):
    rows = bench_sql(db, "SELECT state FROM rebilling_billing_run WHERE id = %s", [run_id])
    return rows[0][0] if rows else None


def received(smtp):
    """{invoice number: [Message-ID, ...]} of the invoice emails the fake SMTP received."""
    by_invoice = defaultdict(list)
    for _sender, _rcpts, msg in list(smtp.messages):
        subject = str(msg["Subject"] or "")
        if " invoice " in subject:
            by_invoice[subject.rsplit(" ", 1)[1]].append(str(msg["Message-Id"]))
    return by_invoice


def measure(db, channels, customers, workers=None, kill=False, log_level="warn", nodes=1):
    reset_run(db)
    kills = []
    with load_fake_smtp()() as smtp:
        bench = server(
            db, channels, workers or channels + 1, smtp.port, log_level=log_level, nodes=nodes
        )
        with bench:
            started = time.perf_counter()
            run_id = start_billing_run(db, PERIOD)
            billed = None
            while True:
                bench.note_workers()
                states = send_states(db, run_id)
                done = states.get("sent", 0) + states.get("failed", 0)
                if billed is None and run_state(db, run_id) == "done":
                    billed = time.perf_counter() - started
                if kill and len(kills) < 2 and done >= (0.3, 0.6)[len(kills)] * customers:
                    pid = kill_busy_job_worker(db, "_rebilling_send_job")
                    if pid:
                        kills.append(pid)
                if billed is not None and not states.get("queued") and not states.get("pending"):
                    break
                if time.perf_counter() - started > max(TIMEOUT, 2 * customers):
                    print(f"  timed out after {max(TIMEOUT, 2 * customers)} s: {states}")
                    break
                time.sleep(0.5)
            seconds = time.perf_counter() - started
            ids = [
                r[0]
                for r in bench_sql(
                    db,
                    "SELECT id FROM account_move WHERE rebilling_run_id = %s ORDER BY id LIMIT 3",
                    [run_id],
                )
            ]
            http_pdf_s, http_pdf_bytes = pdf_over_http(bench, ids)
        mails = received(smtp)
    states = send_states(db, run_id)
    names = [
        r[0]
        for r in bench_sql(
            db, "SELECT name FROM account_move WHERE rebilling_run_id = %s", [run_id]
        )
    ]
    job_s, job_count = bench_sql(
        db,
        """SELECT avg(extract(epoch FROM date_done - date_started)), count(*) FROM queue_job
           WHERE method_name = '_rebilling_send_job' AND state = 'done'""",
    )[0]
    pdf_bytes = bench_sql(
        db,
        """SELECT avg(a.file_size) FROM account_move m JOIN ir_attachment a
           ON a.res_model = 'account.move' AND a.res_id = m.id
           AND a.res_field = 'invoice_pdf_report_file' WHERE m.rebilling_run_id = %s""",
        [run_id],
    )[0][0]
    xlsx = bench_sql(
        db,
        "SELECT count(*) FROM account_move WHERE rebilling_run_id = %s"
        " AND rebilling_call_list_id IS NOT NULL",
        [run_id],
    )[0][0]
    missing = [n for n in names if n not in mails]
    repeated = {n: ids for n, ids in mails.items() if len(ids) > 1}
    same_id = all(len(set(ids)) == 1 for ids in repeated.values())
    invoices = len(names)
    label = (
        f"{channels} channel{'s' if channels > 1 else ''}"
        + (f", {nodes} nodes" if nodes > 1 else "")
        + (" --kill" if kill else "")
    )
    print(
        f"{label:18}: {invoices} invoices billed and emailed in {seconds:6.1f} s = "
        f"{invoices / seconds:5.2f} invoices/s (billing done at {billed or 0:.1f} s); "
        f"sent {states.get('sent', 0)}, failed {states.get('failed', 0)}; "
        f"{job_s or 0:.2f} s per send job ({job_count} jobs); PDF {pdf_bytes or 0:,.0f} bytes "
        f"(over HTTP: {http_pdf_s:.2f} s, {http_pdf_bytes:,.0f} bytes); {xlsx} call lists; "
        f"watchdog kills {bench.watchdog_kills()}; 10,000 invoices: "
        f"{10000 / (invoices / seconds) / 3600:.2f} h"
    )
    print(
        f"{'':18}  fake SMTP received {sum(len(v) for v in mails.values())} invoice emails for "
        f"{invoices} invoices; missing {len(missing)}; received more than once {len(repeated)}"
        + (f" ({', '.join(sorted(repeated))}), same Message-ID: {same_id}" if repeated else "")
        + (f"; killed send workers {kills}" if kill else "")
    )
    if nodes > 1:
        per_node = bench.jobs_per_node("_rebilling_send_job")
        print(
            f"{'':18}  send jobs per node: "
            + ", ".join(f"node {n}: {c}" for n, c in sorted(per_node.items(), key=str))
            + "; balancer connections per node: "
            + ", ".join(str(c) for c in bench.balancer.connections.values())
        )
    if missing or not same_id or invoices != customers:
        raise SystemExit(
            f"FAILED: {invoices} invoices for {customers} customers, missing {missing}, "
            f"different Message-IDs: {not same_id}"
        )
    return invoices / seconds


def main():
    parser = server_bench_parser(__doc__, DB, customers=50, channels="root.rebilling.send")
    parser.add_argument("--workers", type=int, help="HTTP workers (default: channels + 1)")
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="also run on this many Odoo nodes behind a local load balancer (with the most "
        "channels)",
    )
    add_smoke_argument(parser, customers=2, channels="1")
    args = parse_bench_args(parser)
    db = args.db
    ensure_database(db, ["rebilling_base", "rebilling_voip"], rebuild=args.rebuild)
    ensure_customers(db, args.customers)
    print(
        f"{args.customers} customers (3 services, 2 charges, {CALLS_PER_CUSTOMER} calls each); "
        f"{os.cpu_count()} cores (shared: other processes may run)"
    )
    rates = {}
    for channels in [int(c) for c in args.channels.split(",")]:
        rates[channels] = measure(
            db, channels, args.customers, workers=args.workers, log_level=args.server_log
        )
    most = max(k for k in rates if isinstance(k, int))
    if args.nodes > 1:
        rates[f"{args.nodes} nodes"] = measure(
            db,
            most,
            args.customers,
            workers=args.workers,
            log_level=args.server_log,
            nodes=args.nodes,
        )
    if args.kill:
        measure(
            db,
            most,
            args.customers,
            workers=args.workers,
            kill=True,
            log_level=args.server_log,
        )
    reset_run(db)
    if f"{args.nodes} nodes" in rates:
        print(
            f"{args.nodes} nodes / 1 node ({most} channels): "
            f"{rates[f'{args.nodes} nodes'] / rates[most]:.2f}x"
        )
    if 1 in rates and 2 in rates:
        print(f"2 channels / 1 channel: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
