from datetime import date, datetime, timedelta

import psycopg2

from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import RebillingCase

NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)


@tagged("post_install", "-at_install")
class TestBillingRun(RebillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Charge = cls.env["rebilling.charge"]
        cls.recurring = Charge.create(
            {
                "partner_id": cls.customer_a.id,
                "service_id": cls.service_a.id,
                "name": "Managed router rental",
                "product_id": cls.product_pbx.id,
                "price_unit": 15.0,
                "charge_type": "recurring",
                "date_start": date(2026, 10, 1),
            }
        )
        cls.once = Charge.create(
            {
                "partner_id": cls.customer_a.id,
                "name": "Installation fee",
                "product_id": cls.product_fee.id,
                "charge_type": "once",
                "date_start": date(2026, 10, 20),
            }
        )

    def test_one_invoice_per_enabled_customer(self):
        run = self.run_billing(NOV)
        self.assertEqual(run.state, "done")
        inv_a = self.invoices_of(self.customer_a)
        inv_b = self.invoices_of(self.customer_b)
        self.assertEqual(len(inv_a), 1)
        self.assertEqual(len(inv_b), 1)
        self.assertFalse(self.invoices_of(self.customer_off), "disabled customers are not billed")
        self.assertEqual(run.invoice_count, 2)
        self.assertEqual(run.customer_count, 2)
        self.assertEqual(inv_a.state, "posted")
        self.assertEqual(inv_a.invoice_date, NOV, "invoice date is the 1st")
        self.assertEqual(inv_a.invoice_date_due, NOV + timedelta(days=14))
        self.assertAlmostEqual(run.amount_total, inv_a.amount_total + inv_b.amount_total)
        self.assertGreater(run.duration, -1)

    def test_lines_say_what_and_which_period(self):
        self.run_billing(NOV)
        inv = self.invoices_of(self.customer_a)
        names = inv.invoice_line_ids.mapped("name")
        self.assertIn("Business NBN 100/40 (11/01/2026 - 11/30/2026)", names)
        self.assertIn("Managed router rental (11/01/2026 - 11/30/2026)", names)
        self.assertIn("Installation fee (once-off, 10/20/2026)", names)
        nbn = inv.invoice_line_ids.filtered(lambda ln: ln.rebilling_line_kind == "service")
        self.assertEqual(nbn.price_unit, 99.0, "price defaults from the product")
        self.assertEqual(nbn.rebilling_line_kind, "service")
        self.assertEqual(nbn.tax_ids, self.gst)
        b_line = self.invoices_of(self.customer_b).invoice_line_ids
        self.assertEqual(b_line.quantity, 4)
        self.assertAlmostEqual(self.invoices_of(self.customer_b).amount_untaxed, 100.0)

    def test_partial_month_is_prorated_by_day(self):
        self.service_b.date_start = date(2026, 11, 21)  # 10 of 30 days
        self.run_billing(NOV)
        line = self.invoices_of(self.customer_b).invoice_line_ids
        # 4 x 25.00 x 10/30 = 33.33, rounded once (not 4 x 8.33 = 33.32)
        self.assertAlmostEqual(line.price_subtotal, 33.33, places=2)
        self.assertIn("prorated 10/30 days", line.name)
        # A service ending mid-month is prorated too.
        self.service_a.date_end = date(2026, 11, 15)
        self.recurring.date_end = date(2026, 11, 15)
        self.run_billing(DEC)
        dec = self.invoices_of(self.customer_a, DEC)
        self.assertFalse(
            dec.invoice_line_ids.filtered(lambda ln: ln.rebilling_date_from >= DEC),
            "nothing is billed for December",
        )
        # Billed in advance for November, both are credited for 16-30 November:
        # 99.00 x 15/30 + 15.00 x 15/30 = 57.00, more than December's charges: a credit note.
        self.assertEqual(dec.move_type, "out_refund")
        self.assertAlmostEqual(dec.amount_untaxed, 57.0)

    def test_service_ended_or_disabled_is_not_billed(self):
        self.service_b.date_end = date(2026, 10, 31)
        self.service_a.invoice_enabled = False
        run = self.run_billing(NOV)
        self.assertFalse(self.invoices_of(self.customer_b))
        inv_a = self.invoices_of(self.customer_a)
        self.assertNotIn("service", inv_a.invoice_line_ids.mapped("rebilling_line_kind"))
        self.assertEqual(run.customer_count, 1)

    def test_once_off_billed_once_recurring_every_month(self):
        self.run_billing(NOV)
        self.assertTrue(self.once.invoiced)
        self.assertEqual(self.once.invoice_id, self.invoices_of(self.customer_a, NOV))
        self.run_billing(DEC)
        dec = self.invoices_of(self.customer_a, DEC)
        self.assertEqual(len(dec), 1)
        self.assertNotIn("Installation fee", " ".join(dec.invoice_line_ids.mapped("name")))
        self.assertIn(
            "Managed router rental (12/01/2026 - 12/31/2026)", dec.invoice_line_ids.mapped("name")
        )
        # Cancelling the November invoice frees the once-off charge for the next run.
        self.invoices_of(self.customer_a, NOV).button_cancel()
        self.assertFalse(self.once.invoiced)

    def test_rerun_never_bills_twice(self):
        run = self.run_billing(NOV)
        first = self.invoices_of(self.customer_a)
        again = self.run_billing(NOV)
        self.assertEqual(again, run, "one run per company and period")
        run.action_start()
        self.assertEqual(self.invoices_of(self.customer_a), first)
        self.assertEqual(
            len(self.env["account.move"].search([("rebilling_run_id", "=", run.id)])), 2
        )

    def test_database_refuses_a_second_invoice_for_the_period(self):
        self.run_billing(NOV)
        inv = self.invoices_of(self.customer_a)
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError):
            with self.env.cr.savepoint():
                # One run invoice per customer and period (a reseller period invoice of
                # the month, made without a run, is another document).
                copy = inv.copy(
                    {
                        "rebilling_period": NOV,
                        "invoice_date": NOV,
                        "rebilling_run_id": inv.rebilling_run_id.id,
                    }
                )
                copy.flush_recordset()

    def test_database_refuses_two_runs_for_a_period(self):
        Run = self.env["rebilling.billing.run"]
        Run.create({"company_id": self.company.id, "period_start": NOV})
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError):
            with self.env.cr.savepoint():
                Run.create({"company_id": self.company.id, "period_start": NOV}).flush_recordset()
        # A preview of the same period is allowed next to it.
        Run.create({"company_id": self.company.id, "period_start": NOV, "dry_run": True})

    def test_failing_customer_is_logged_and_others_invoiced(self):
        other_company = self.env["res.company"].create({"name": "Other Reseller"})
        foreign = self.env["product.product"].create(
            {"name": "Foreign product", "company_id": other_company.id, "list_price": 5}
        )
        # Corrupt data as it may come from an import: a product of another company.
        self.env.cr.execute(
            "UPDATE rebilling_service SET product_id = %s WHERE id = %s",
            [foreign.id, self.service_b.id],
        )
        self.env.invalidate_all()
        run = self.run_billing(NOV)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.error_count, 1)
        line_b = run.line_ids.filtered(lambda ln: ln.partner_id == self.customer_b)
        self.assertEqual(line_b.state, "error")
        self.assertTrue(line_b.error)
        self.assertFalse(self.invoices_of(self.customer_b))
        self.assertEqual(len(self.invoices_of(self.customer_a)), 1)
        # Fixed data: retrying the customer bills it in the same run.
        self.env.cr.execute(
            "UPDATE rebilling_service SET product_id = %s WHERE id = %s",
            [self.product_pbx.id, self.service_b.id],
        )
        self.env.invalidate_all()
        line_b.with_context(queue_job__no_delay=True).action_retry()
        self.assertEqual(line_b.state, "done")
        self.assertEqual(len(self.invoices_of(self.customer_b)), 1)
        self.assertEqual(run.state, "done")

    def test_killed_run_resumes_where_it_stopped(self):
        run = self.env["rebilling.billing.run"]._get_or_create(self.company, NOV)
        run._prepare_lines()
        self.assertEqual(run.state, "running")
        first = run.line_ids.sorted("id")[:1]
        run._process_lines(first)  # the worker dies after its first customer
        self.assertEqual(run.pending_count, 1)
        # The cron picks up what no job finished.
        self.env["rebilling.billing.run"]._cron_process_pending(commit=False)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.invoice_count, 2)
        self.assertEqual(len(self.invoices_of(self.customer_a)), 1)
        self.assertEqual(len(self.invoices_of(self.customer_b)), 1)

    def test_chunks_are_queue_jobs_on_the_rebilling_channel(self):
        run = self.env["rebilling.billing.run"]._get_or_create(self.company, NOV)
        with trap_jobs() as trap:
            run.action_start()
            trap.assert_jobs_count(1)
            lines = run.line_ids.sorted("id")
            trap.assert_enqueued_job(
                run._process_chunk,
                args=(lines.ids,),
                properties={
                    "identity_key": f"rebilling_chunk:{run.id}:{lines[0].id}:2",
                    "max_retries": 20,
                },
            )
            # The channel comes from the job's declaration (queue.job.function).
            self.assertEqual(trap.enqueued_jobs[0].channel, "root.rebilling")
            self.assertFalse(
                self.invoices_of(self.customer_a), "nothing billed before the job runs"
            )
            trap.perform_enqueued_jobs()
        self.assertEqual(run.state, "done")
        self.assertEqual(run.invoice_count, 2)

    def test_dry_run_creates_no_invoice(self):
        wizard = Form(self.env["rebilling.run.wizard"])
        wizard.period_start = date(2026, 11, 17)
        wizard.dry_run = True
        with trap_jobs() as trap:
            action = wizard.save().action_run()
            trap.perform_enqueued_jobs()
        run = self.env["rebilling.billing.run"].browse(action["res_id"])
        self.assertTrue(run.dry_run)
        self.assertEqual(run.period_start, NOV)
        self.assertEqual(run.state, "done")
        self.assertFalse(self.env["account.move"].search([("rebilling_period", "!=", False)]))
        line_a = run.line_ids.filtered(lambda ln: ln.partner_id == self.customer_a)
        self.assertAlmostEqual(line_a.amount_untaxed, 99.0 + 15.0 + 150.0)
        self.assertFalse(self.once.invoiced)

    def test_manual_run_from_wizard(self):
        wizard = Form(self.env["rebilling.run.wizard"])
        wizard.period_start = NOV
        with trap_jobs() as trap:
            action = wizard.save().action_run()
            trap.perform_enqueued_jobs()
        run = self.env["rebilling.billing.run"].browse(action["res_id"])
        self.assertFalse(run.dry_run)
        self.assertEqual(run.invoice_count, 2)

    def test_cron_starts_the_run_on_the_first(self):
        self.company.rebilling_tz = "Australia/Sydney"
        self.company.rebilling_run_hour = 2
        Run = self.env["rebilling.billing.run"]
        # 1 Dec 2026 01:30 Sydney (UTC+11) = 30 Nov 14:30 UTC: before the run hour.
        Run.with_context(queue_job__no_delay=True)._cron_monthly_run(
            datetime(2026, 11, 30, 14, 30), commit=False
        )
        self.assertFalse(Run.search([("period_start", "=", DEC)]))
        # 02:30 Sydney: the run starts.
        Run.with_context(queue_job__no_delay=True)._cron_monthly_run(
            datetime(2026, 11, 30, 15, 30), commit=False
        )
        run = Run.search([("period_start", "=", DEC)])
        self.assertEqual(run.state, "done")
        self.assertEqual(run.invoice_count, 2)
        # 2 Dec: nothing more.
        Run._cron_monthly_run(datetime(2026, 12, 1, 15, 30), commit=False)
        self.assertEqual(Run.search([]).mapped("period_start"), [DEC])

    def test_incomplete_configuration_refuses_to_run(self):
        self.company.rebilling_bsb = False
        run = self.env["rebilling.billing.run"]._get_or_create(self.company, NOV)
        with self.assertRaisesRegex(Exception, "BSB"):
            run.action_start()
