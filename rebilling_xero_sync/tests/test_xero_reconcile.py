from freezegun import freeze_time

from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.tests import Form, tagged

from .common import NOV, XeroCase


@tagged("post_install", "-at_install")
@freeze_time("2026-11-20 03:00:00")
class TestXeroReconcile(XeroCase):
    def setUp(self):
        super().setUp()
        with trap_jobs():
            self.connect()

    def run_and_push(self):
        """The month's run, its pushes, then the reconciliation the last push queued."""
        with trap_jobs() as trap:
            run = self.env["rebilling.billing.run"]._get_or_create(self.company, NOV)
            run.action_start()
            pushed = False
            while not any(j.method_name == "_rebilling_reconcile_job" for j in trap.enqueued_jobs):
                self.assertTrue(trap.enqueued_jobs, "no reconciliation queued")
                pushed = pushed or any(
                    j.method_name == "_rebilling_push_job" for j in trap.enqueued_jobs
                )
                trap.perform_enqueued_jobs()
            self.assertTrue(pushed, "queued after the pushes")
            self.assertEqual(run.state, "done")
            trap.assert_enqueued_job(run._rebilling_reconcile_job)
            (job,) = [j for j in trap.enqueued_jobs if j.method_name == "_rebilling_reconcile_job"]
            self.assertEqual(job.channel, "root.rebilling.sync")
            self.assertEqual(job.identity_key, f"rebilling.reconcile:{run.id}")
            trap.perform_enqueued_jobs()
        return run

    def line_item(self, amount):
        return {
            "Description": "Edited in Xero",
            "Quantity": 1,
            "UnitAmount": amount,
            "AccountCode": "200",
            "TaxType": "OUTPUT",
        }

    def test_nothing_listed_when_all_agree(self):
        run = self.run_and_push()
        self.assertEqual(len(run.invoice_ids), 2)
        self.assertTrue(run.reconciled_at)
        self.assertFalse(run.reconcile_line_ids)
        self.assertIn("Xero: all agree", run.message_ids[0].body)
        # Summary only, one page each: one call of invoices, one of credit notes.
        (call,) = self.xero.requests_matching("GET", r"/api\.xro/2\.0/Invoices$")
        self.assertEqual(call.arg("summaryOnly"), "true")
        self.assertEqual(call.arg("pageSize"), "1000")
        self.assertIn('Type=="ACCREC"', call.arg("where"))
        self.assertEqual(len(self.xero.requests_matching("GET", r"/api\.xro/2\.0/CreditNotes$")), 1)

    def test_missing_total_voided_and_extra_are_listed(self):
        run = self.run_and_push()
        move_a = self.invoices_of(self.customer_a, NOV)
        move_b = self.invoices_of(self.customer_b, NOV)
        # In Xero, someone voids A, edits B's lines, and keys in an invoice of their own.
        self.xero.add_invoice(InvoiceID=move_a.rebilling_xero_invoice_id, Status="VOIDED")
        self.xero.add_invoice(
            InvoiceID=move_b.rebilling_xero_invoice_id, LineItems=[self.line_item(10.0)]
        )
        self.xero.add_invoice(
            Type="ACCREC",
            InvoiceNumber="MANUAL-1",
            Contact={"ContactID": self.customer_a.rebilling_xero_contact_id},
            Date="2026-11-05",
            DueDate="2026-11-19",
            Status="AUTHORISED",
            LineItems=[self.line_item(50.0)],
        )
        # In Odoo, a credit note of the month whose push has not run.
        with trap_jobs():
            wizard = Form(
                self.env["account.move.reversal"].with_context(
                    active_model="account.move", active_ids=move_b.ids
                )
            )
            wizard.reason = "Wrong plan"
            credit_note = self.env["account.move"].browse(wizard.save().refund_moves()["res_id"])
            credit_note.action_post()
        # On demand, from the button.
        action = run.action_reconcile()
        self.assertEqual(action["res_model"], "rebilling.reconcile.line")
        lines = run.reconcile_line_ids
        found = {(line.kind, line.reference) for line in lines}
        self.assertEqual(
            found,
            {
                ("status", move_a.name),
                ("total", move_b.name),
                ("missing", credit_note.name),
                ("extra", "MANUAL-1"),
            },
        )
        voided = lines.filtered(lambda line: line.kind == "status")
        self.assertEqual(voided.remote_status, "VOIDED")
        self.assertEqual(voided.move_id, move_a)
        differs = lines.filtered(lambda line: line.kind == "total")
        self.assertEqual(differs.odoo_total, move_b.amount_total)
        self.assertEqual(differs.remote_total, 11.0)
        missing = lines.filtered(lambda line: line.kind == "missing")
        self.assertEqual(missing.move_id, credit_note)
        self.assertEqual(missing.odoo_total, credit_note.amount_total)
        # Each a click to its document and its sync log.
        self.assertEqual(voided.action_open_move()["res_id"], move_a.id)
        logs = self.env["rebilling.sync.log"].search(voided.action_view_sync_log()["domain"])
        self.assertTrue(logs)
        self.assertEqual(set(logs.mapped("res_id")), {move_a.id})
        body = run.message_ids[0].body
        self.assertIn("Missing 1", body)
        self.assertIn("Extra 1", body)
        self.assertIn("Status 1", body)
        self.assertIn("Total differs 1", body)
        # Once fixed (the credit note pushed, B put back), only A and the manual one stay.
        with trap_jobs() as trap:
            # B first (Xero refuses to edit an invoice once credited), then the credit note.
            self.backend._rebilling_push(move_b, force=True)
            self.backend._rebilling_push(credit_note)
            trap.perform_enqueued_jobs()
        run.action_reconcile()
        self.assertEqual(
            {(line.kind, line.reference) for line in run.reconcile_line_ids},
            {("status", move_a.name), ("extra", "MANUAL-1")},
        )
