from freezegun import freeze_time

from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.tests import Form

from .common import NOV, ConnectwiseCase


@freeze_time("2026-11-20 03:00:00")
class TestConnectwiseReconcile(ConnectwiseCase):
    def setUp(self):
        super().setUp()
        self.connect()
        self.seed()
        self.link_services()

    def run_and_push(self):
        """The month's run and its pushes, then "Reconcile" on the run."""
        run = self.run_billing(NOV)
        self.assertEqual(run.state, "done")
        run.action_reconcile()
        return run

    def test_nothing_listed_when_all_agree(self):
        run = self.run_and_push()
        self.assertEqual(len(self.cw.additions()), 2)
        self.assertTrue(run.reconciled_at)
        self.assertFalse(run.reconcile_line_ids)
        self.assertIn("all agree", run.message_ids[0].body)
        calls = self.cw.requests_matching("GET", r"/finance/agreements/\d+/additions$")
        self.assertEqual(len(calls), 2, "one list per agreement")
        self.assertIn("effectiveDate>=", calls[-1].arg("conditions"))

    def test_missing_total_and_do_not_bill_are_listed(self):
        run = self.run_and_push()
        invoice_a = self.invoices_of(self.customer_a, NOV)
        invoice_b = self.invoices_of(self.customer_b, NOV)
        (addition_a,) = self.cw.additions(self.cw_agreement_a["id"])
        (addition_b,) = self.cw.additions(self.cw_agreement_b["id"])
        self.cw.edit_addition(addition_a["id"], billCustomer="DoNotBill")
        self.cw.edit_addition(addition_b["id"], unitPrice=addition_b["unitPrice"] + 5)
        with trap_jobs():
            wizard = Form(
                self.env["account.move.reversal"].with_context(
                    active_model="account.move", active_ids=invoice_a.ids
                )
            )
            wizard.reason = "Wrong plan"
            credit_note = self.env["account.move"].browse(wizard.save().refund_moves()["res_id"])
            credit_note.action_post()
        run.action_reconcile()
        lines = run.reconcile_line_ids
        self.assertEqual(
            {(line.kind, line.move_id) for line in lines},
            {("status", invoice_a), ("total", invoice_b), ("missing", credit_note)},
        )
        self.assertEqual(
            lines.filtered(lambda line: line.kind == "status").remote_status, "DoNotBill"
        )
        differs = lines.filtered(lambda line: line.kind == "total")
        self.assertAlmostEqual(
            differs.remote_total - differs.odoo_total, 5 * addition_b["quantity"]
        )
