from freezegun import freeze_time

from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.tests import Form

from .common import NOV, AutotaskCase


@freeze_time("2026-11-20 03:00:00")
class TestAutotaskReconcile(AutotaskCase):
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
        self.assertEqual(len(self.autotask.records("ContractCharges")), 2)
        self.assertTrue(run.reconciled_at)
        self.assertFalse(run.reconcile_line_ids)
        self.assertIn("all agree", run.message_ids[0].body)
        (query,) = self.autotask.requests_matching("POST", r"/ContractCharges/query$")
        self.assertIn("IncludeFields", query.json)

    def test_missing_total_and_not_billable_are_listed(self):
        run = self.run_and_push()
        invoice_a = self.invoices_of(self.customer_a, NOV)
        invoice_b = self.invoices_of(self.customer_b, NOV)
        (charge_a,) = self.autotask.charges(self.at_contract_a["id"])
        (charge_b,) = self.autotask.charges(self.at_contract_b["id"])
        # In Autotask, someone unticks "Billable" on A's charge and changes B's price.
        self.autotask.edit_charge(charge_a["id"], isBillableToCompany=False)
        self.autotask.edit_charge(charge_b["id"], unitPrice=charge_b["unitPrice"] + 5)
        # In Odoo, a credit note of the month whose push has not run.
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
        differs = lines.filtered(lambda line: line.kind == "total")
        self.assertAlmostEqual(
            differs.remote_total - differs.odoo_total, 5 * charge_b["unitQuantity"]
        )
        self.assertEqual(
            lines.filtered(lambda line: line.kind == "status").remote_status, "not billable"
        )
        logs = self.env["rebilling.sync.log"].search(
            lines.filtered(lambda line: line.kind == "total").action_view_sync_log()["domain"]
        )
        self.assertEqual(logs.mapped("res_model"), ["account.move.line"])
        self.assertIn("Missing 1", run.message_ids[0].body)
