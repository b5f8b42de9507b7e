"""The billing run as production runs it: parallel chunks, transient errors, numbering, cron."""

import threading
import time
from datetime import date, datetime

import psycopg2

from odoo import SUPERUSER_ID, Command, api, sql_db
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.tests import Form, TransactionCase, tagged
from odoo.tools import mute_logger

from .common import RebillingCase, db_fail

NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)
FAR = date(2031, 1, 1)  # a period no other test uses (committed data)


@tagged("post_install", "-at_install")
class TestBillingRunTransient(RebillingCase):
    def test_chunk_job_is_declared_with_a_retry_pattern(self):
        function = self.env["queue.job.function"].search(
            [("name", "=", "<rebilling.billing.run>._process_chunk")]
        )
        self.assertEqual(function.channel, "root.rebilling")
        self.assertTrue(function.retry_pattern, "transient errors retry with a declared pattern")

    @mute_logger("odoo.sql_db")
    def test_serialization_failure_retries_the_chunk_not_the_customer(self):
        run = self.env["rebilling.billing.run"]._get_or_create(self.company, NOV)
        with trap_jobs() as trap:
            run.action_start()
            lines = run.line_ids
            job = trap.enqueued_jobs[0]
            db_fail(self.env.cr, "account_move", "40001")
            with self.assertRaises(RetryableJobError):
                job.perform()
            self.env.invalidate_all()
            self.assertEqual(set(lines.mapped("state")), {"pending"}, "nobody is in error")
            self.assertFalse(lines.filtered("error"))
            # The job runs again (queue_job's retry): every customer is billed once.
            job.perform()
        self.assertEqual(set(lines.mapped("state")), {"done"})
        self.assertEqual(run.state, "done")
        self.assertEqual(len(self.invoices_of(self.customer_a)), 1)
        self.assertEqual(len(self.invoices_of(self.customer_b)), 1)

    @mute_logger("odoo.sql_db", "odoo.addons.rebilling_base.models.rebilling_billing_run")
    def test_a_customers_own_error_isolates_only_that_customer(self):
        run = self.env["rebilling.billing.run"]._get_or_create(self.company, NOV)
        db_fail(
            self.env.cr,
            "account_move",
            "23514",
            where=f"NEW.partner_id = {self.customer_b.id}",
            once=False,
        )
        run.with_context(queue_job__no_delay=True).action_start()
        line_b = run.line_ids.filtered(lambda line: line.partner_id == self.customer_b)
        self.assertEqual(line_b.state, "error")
        self.assertIn("injected fault", line_b.error)
        self.assertEqual(len(self.invoices_of(self.customer_a)), 1)


@tagged("post_install", "-at_install")
class TestBillingRunNumbering(RebillingCase):
    def run_names(self, period):
        return self.env["account.move"].search([("rebilling_period", "=", period)]).mapped("name")

    def test_rebilling_invoices_have_their_own_journal(self):
        self.run_billing(NOV)
        journal = self.company.rebilling_journal_id
        self.assertTrue(journal)
        self.assertEqual(journal.type, "sale")
        self.assertEqual(self.invoices_of(self.customer_a).journal_id, journal)
        default_journal = Form(
            self.env["account.move"].with_context(default_move_type="out_invoice")
        ).journal_id
        self.assertNotEqual(default_journal, journal, "manual invoices keep Odoo's journal")

    def _manual_invoice(self, journal=None):
        with Form(self.env["account.move"].with_context(default_move_type="out_invoice")) as form:
            form.partner_id = self.customer_a
            form.invoice_date = date(2026, 11, 15)
            if journal:
                form.journal_id = journal
            with form.invoice_line_ids.new() as line:
                line.product_id = self.product_fee
        move = form.save()
        move.action_post()
        return move

    def test_manual_invoices_never_collide_with_the_next_run(self):
        n = self.company.rebilling_sequence_id.number_next_actual
        self.run_billing(NOV)
        self.assertEqual(set(self.run_names(NOV)), {f"AAP-{n:05d}", f"AAP-{n + 1:05d}"})
        # An accountant posts an invoice in Odoo's Sales journal, another one in the
        # rebilling journal, and a credit note of a rebilling invoice.
        sales = self._manual_invoice()
        in_rebilling = self._manual_invoice(journal=self.company.rebilling_journal_id)
        reversal = (
            self.env["account.move.reversal"]
            .with_context(
                active_model="account.move", active_ids=self.invoices_of(self.customer_b).ids
            )
            .create({"journal_id": self.company.rebilling_journal_id.id, "date": NOV})
        )
        credit = self.env["account.move"].browse(reversal.refund_moves()["res_id"])
        credit.action_post()
        self.assertFalse(sales.name.startswith("AAP-"), "Odoo's own numbering in its journal")
        self.assertEqual(in_rebilling.name, f"AAP-{n + 2:05d}", "the rebilling journal's numbers")
        # The credit note of a rebilling invoice keeps its period: a rebilling number too.
        self.assertEqual(credit.name, f"AAP-{n + 3:05d}")
        self.run_billing(DEC)
        dec = self.env["account.move"].search(
            [("rebilling_period", "=", DEC), ("move_type", "=", "out_invoice")]
        )
        self.assertEqual(set(dec.mapped("name")), {f"AAP-{n + 4:05d}", f"AAP-{n + 5:05d}"})
        names = self.env["account.move"].search([("state", "=", "posted")]).mapped("name")
        self.assertEqual(len(names), len(set(names)), "every posted number is unique")
        self.assertEqual(in_rebilling.name, f"AAP-{n + 2:05d}", "the manual one keeps its number")

    def test_numbers_follow_the_pattern_after_a_rolled_back_chunk(self):
        start = self.company.rebilling_sequence_id.number_next_actual
        with self.env.cr.savepoint() as sp:
            taken = self.company._rebilling_next_numbers(2, NOV)
            sp.rollback()
        self.assertEqual(taken, [f"AAP-{start:05d}", f"AAP-{start + 1:05d}"])
        self.run_billing(NOV)
        names = sorted(self.run_names(NOV))
        # Numbers taken by a rolled-back transaction are never reused: a gap.
        self.assertEqual(names, [f"AAP-{start + 2:05d}", f"AAP-{start + 3:05d}"])


@tagged("post_install", "-at_install")
class TestMonthlyCron(RebillingCase):
    def cron(self, utc):
        Run = self.env["rebilling.billing.run"].with_context(queue_job__no_delay=True)
        Run._cron_monthly_run(utc, commit=False)

    def test_time_zone_field_drives_the_run_hour(self):
        self.company.rebilling_run_hour = 2
        # 1 Dec 02:30 in Perth (UTC+8) = 30 Nov 18:30 UTC; in Sydney it is already 05:30.
        with Form(self.company, view="rebilling_base.res_company_rebilling_form") as form:
            form.rebilling_tz = "Australia/Perth"
        self.cron(datetime(2026, 11, 30, 17, 30))  # 01:30 Perth
        Run = self.env["rebilling.billing.run"]
        self.assertFalse(Run.search([("period_start", "=", DEC)]))
        self.cron(datetime(2026, 11, 30, 18, 30))  # 02:30 Perth
        self.assertEqual(Run.search([("period_start", "=", DEC)]).state, "done")

    def test_a_run_missed_at_night_starts_later_and_says_so(self):
        # 1 Dec 07:00 Sydney (UTC+11): the 01:00-06:00 window was missed.
        self.cron(datetime(2026, 11, 30, 20, 0))
        run = self.env["rebilling.billing.run"].search([("period_start", "=", DEC)])
        self.assertEqual(run.state, "done")
        self.assertEqual(run.invoice_count, 2)
        self.assertIn("Started late", " ".join(run.message_ids.mapped("body")))
        # On the 4th nothing starts any more for a month without a run.
        self.env["rebilling.billing.run"].search([]).unlink()
        self.cron(datetime(2026, 12, 3, 20, 0))
        self.assertFalse(self.env["rebilling.billing.run"].search([]))

    @mute_logger("odoo.sql_db", "odoo.addons.rebilling_base.models.rebilling_billing_run")
    def test_one_failing_company_does_not_stop_another(self):
        other = self.env["res.company"].create(
            {"name": "Zeta Telecom", "country_id": self.env.ref("base.au").id}
        )
        self.env["account.chart.template"].try_loading("au", company=other, install_demo=False)
        self.configure_company(other)
        self.env.user.company_ids |= other
        customer = self.env["res.partner"].create(
            {"name": "Zeta customer", "rebilling_enabled": True, "company_id": other.id}
        )
        self.env["rebilling.service"].with_company(other).create(
            {
                "partner_id": customer.id,
                "company_id": other.id,
                "product_id": self.product_nbn.id,
                "date_start": date(2026, 1, 1),
                "price_unit": 50.0,
            }
        )
        # The main company's data makes its run fail to start (a constraint of its own).
        db_fail(
            self.env.cr,
            "rebilling_billing_run_line",
            "23514",
            where=f"NEW.company_id = {self.company.id}",
        )
        self.cron(datetime(2026, 11, 30, 15, 30))
        Run = self.env["rebilling.billing.run"]
        other_run = Run.search([("company_id", "=", other.id), ("period_start", "=", DEC)])
        self.assertEqual(other_run.state, "done")
        self.assertEqual(other_run.invoice_count, 1)
        self.assertFalse(
            Run.search([("company_id", "=", self.company.id), ("period_start", "=", DEC)]),
            "the failed start is rolled back; the next tick tries again",
        )
        self.cron(datetime(2026, 11, 30, 16, 30))
        main_run = Run.search([("company_id", "=", self.company.id), ("period_start", "=", DEC)])
        self.assertEqual(main_run.state, "done")


class CommittedData:
    """Records committed in the test database for sessions outside the test's transaction.

    Everything is removed again by ``cleanup``.
    """

    def __init__(self, dbname):
        self.dbname = dbname
        self.created = []  # (model, ids)
        self.company_before = None

    def env(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})

    def cursor(self):
        return sql_db.db_connect(self.dbname).cursor()

    def cleanup(self, run_id):
        for attempt in range(5):
            try:
                return self._cleanup(run_id)
            except (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected):
                if attempt == 4:
                    raise
                time.sleep(1)

    def _cleanup(self, run_id):
        with self.cursor() as cr:
            cr.execute(
                "DELETE FROM queue_job WHERE identity_key LIKE %s OR identity_key LIKE %s",
                [f"rebilling_close:{run_id}:%", f"rebilling_chunk:{run_id}:%"],
            )
            cr.execute(
                "DELETE FROM account_move WHERE rebilling_run_id = %s",
                [run_id],
            )
            cr.execute("DELETE FROM rebilling_billing_run WHERE id = %s", [run_id])
            for table, ids in reversed(self.created):
                cr.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", [ids])
            if self.company_before:
                company_id, seq_id, journal_id = self.company_before
                cr.execute(
                    "SELECT rebilling_sequence_id, rebilling_journal_id FROM res_company "
                    "WHERE id = %s",
                    [company_id],
                )
                new_seq, new_journal = cr.fetchone()
                cr.execute(
                    "UPDATE res_company SET rebilling_sequence_id = %s, "
                    "rebilling_journal_id = %s WHERE id = %s",
                    [seq_id or None, journal_id or None, company_id],
                )
                env = self.env(cr)
                if new_seq and new_seq != seq_id:
                    env["ir.sequence"].browse(new_seq).unlink()
                if new_journal and new_journal != journal_id:
                    env["account.journal"].browse(new_journal).unlink()  # and its mail alias
            cr.commit()  # pylint: disable=invalid-commit


@tagged("post_install", "-at_install")
class TestParallelChunks(TransactionCase):
    """Two chunks of one run billed at the same time by two database sessions.

    The data is committed (other sessions cannot see the test's transaction),
    so this case writes nothing in its own transaction, and removes what it
    committed.
    """

    def test_two_chunks_overlap_without_errors(self):
        data = CommittedData(self.env.cr.dbname)
        company_id = self.env.ref("base.main_company").id
        with data.cursor() as cr:
            env = data.env(cr)
            company = env["res.company"].browse(company_id)
            data.company_before = (
                company_id,
                company.rebilling_sequence_id.id,
                company.rebilling_journal_id.id,
            )
            product = env["product.product"].create(
                {"name": "Parallel test service", "list_price": 10.0, "type": "service"}
            )
            data.created.append(("product_template", product.product_tmpl_id.ids))
            data.created.append(("product_product", product.ids))
            partners = env["res.partner"].create(
                [{"name": f"Parallel customer {i}", "rebilling_enabled": True} for i in range(4)]
            )
            data.created.append(("res_partner", partners.ids))
            services = env["rebilling.service"].create(
                [
                    {
                        "partner_id": partner.id,
                        "company_id": company_id,
                        "product_id": product.id,
                        "date_start": date(2030, 1, 1),
                    }
                    for partner in partners
                ]
            )
            data.created.append(("rebilling_service", services.ids))
            run = env["rebilling.billing.run"].create(
                {"company_id": company_id, "period_start": FAR}
            )
            run.line_ids = [
                Command.create({"partner_id": partner.id, "company_id": company_id})
                for partner in partners
            ]
            run.write({"state": "running"})
            company._rebilling_journal()
            company._rebilling_next_numbers(0, FAR)  # the sequence exists before the chunks
            run_id, line_ids = run.id, run.line_ids.sorted("id").ids
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(data.cleanup, run_id)

        b_done = threading.Event()
        errors = []

        def chunk(ids, wait_for=None, signal=None):
            try:
                with data.cursor() as cr:
                    env = data.env(cr)
                    env["rebilling.billing.run"].browse(run_id)._process_chunk(ids)
                    if wait_for is not None and not wait_for.wait(60):
                        errors.append("the other chunk could not finish while this one was open")
                    cr.commit()  # pylint: disable=invalid-commit
                    if signal is not None:
                        signal.set()
            except Exception as exc:
                errors.append(repr(exc))
                if signal is not None:
                    signal.set()

        # Chunk A bills its customers and keeps its transaction open until chunk B,
        # started after it, has billed and committed its own: no lock is held
        # across a chunk's create + post.
        first = threading.Thread(target=chunk, args=(line_ids[:2], b_done))
        second = threading.Thread(target=chunk, args=(line_ids[2:], None, b_done))
        first.start()
        second.start()
        second.join(120)
        first.join(120)
        self.assertFalse(first.is_alive() or second.is_alive(), "both chunks finished")
        self.assertEqual(errors, [])
        with data.cursor() as cr:
            env = data.env(cr)
            run = env["rebilling.billing.run"].browse(run_id)
            self.assertEqual(set(run.line_ids.mapped("state")), {"done"})
            names = run.invoice_ids.mapped("name")
            self.assertEqual(len(names), 4)
            self.assertEqual(len(set(names)), 4, "unique numbers")
            # The chunk that committed last left a job that closes the run.
            close_jobs = env["queue.job"].search(
                [("method_name", "=", "_close_if_done"), ("state", "=", "pending")]
            )
            close_jobs = close_jobs.filtered(lambda job: job.records.ids == [run_id])
            if run.state == "running":
                self.assertTrue(close_jobs)
                for record in close_jobs:
                    Job.load(env, record.uuid).perform()
            self.assertEqual(run.state, "done")
            cr.rollback()


@tagged("post_install", "-at_install")
class TestPendingCron(RebillingCase):
    """The pending-chunk cron and the job runner never work on the same run."""

    def start(self):
        run = self.env["rebilling.billing.run"]._get_or_create(self.company, NOV)
        run.action_start()  # the chunk is a stored job, as in production
        job = self.env["queue.job"].search(
            [("method_name", "=", "_process_chunk"), ("state", "=", "pending")]
        )
        self.assertEqual(len(job), 1)
        return run, job

    def test_cron_leaves_a_run_to_a_live_job_runner(self):
        run, job = self.start()
        # The job runner took the chunk (enqueued it to a worker) a moment ago.
        job.write({"state": "enqueued", "date_enqueued": datetime.now()})
        self.env["rebilling.billing.run"]._cron_process_pending(commit=False)
        self.assertEqual(run.pending_count, 2, "the cron does not fight the job runner")
        self.assertEqual(run.state, "running")

    def test_cron_bills_the_run_when_no_job_runner_works(self):
        run, _job = self.start()
        self.env["rebilling.billing.run"]._cron_process_pending(commit=False)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.invoice_count, 2)
