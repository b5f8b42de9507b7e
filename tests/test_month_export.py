"""Issue 26, case 11: the month's Xero CSV exports approved and not-held invoices only,
and says how many it left out."""

import base64
import csv
import io

from freezegun import freeze_time

from odoo.addons.rebilling_review.tests.common import NOV, ReviewCase
from odoo.exceptions import UserError
from odoo.tests import Form, tagged


@tagged("post_install", "-at_install")
class TestMonthExport(ReviewCase):
    def export(self, month):
        form = Form(self.env["rebilling.export.wizard"])
        form.month = month
        form.export_type = "xero_csv"
        wizard = form.save()
        return wizard, wizard.action_export

    def csv_numbers(self, wizard):
        wizard.action_export()
        attachment = self.env["ir.attachment"].search(
            [("res_model", "=", wizard._name), ("res_id", "=", wizard.id)], limit=1
        )
        rows = csv.DictReader(io.StringIO(base64.b64decode(attachment.datas).decode()))
        return {row["*InvoiceNumber"] for row in rows}

    def test_invoices_under_review_are_left_out_and_counted(self):
        with freeze_time("2026-11-01 02:00:00"):
            self.run_billing(NOV)
        inv_a = self.invoices_of(self.customer_a, NOV)
        inv_b = self.invoices_of(self.customer_b, NOV)
        self.assertEqual(
            {inv_a.rebilling_review_state, inv_b.rebilling_review_state}, {"under_review"}
        )
        wizard, _export = self.export(NOV)
        self.assertEqual(wizard.held_count, 2)
        with self.assertRaisesRegex(UserError, "2 invoices held for review"):
            wizard.action_export()
        self.as_approver(inv_a).action_rebilling_review_approve()
        wizard, _export = self.export(NOV)
        self.assertEqual(wizard.held_count, 1, "B is still under review")
        self.assertEqual(self.csv_numbers(wizard), {inv_a.name})
