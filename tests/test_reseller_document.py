"""Issue 26, case 11: the reseller period invoice (customer form > Create invoice) is a
full white-label rebilling document in the customer's language: listed with the
month's rebilling invoices (Summary totals), sendable and in the month's CSV."""

from datetime import date

from freezegun import freeze_time

from odoo.addons.rebilling_base.tests.test_invoice_document import pdf_text
from odoo.addons.rebilling_voip.tests.common import NOV, VoipCase, csv_line
from odoo.tests import Form, tagged

A = "+61299990001"


@tagged("post_install", "-at_install")
class TestResellerDocument(VoipCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("en_AU")
        cls.customer_a.lang = "en_AU"
        cls.env.user.lang = "en_US"

    def create_invoice(self, start, end):
        action = self.customer_a.action_rebilling_reseller_invoice()
        form = Form(self.env[action["res_model"]].with_context(**action["context"]))
        form.date_start = start
        form.date_end = end
        wizard = form.save()
        wizard.action_calculate()
        wizard.action_save()
        return wizard.invoice_id

    @freeze_time("2026-11-05 10:00:00")
    def test_reseller_invoice_is_a_white_label_document_in_the_customer_language(self):
        self.import_csv([csv_line("2026-10-20 10:00:00", 60, A, "0412 555 000", "R1")], rate=True)
        with freeze_time("2026-11-01 02:00:00"):
            self.run_billing(NOV)
        # A late October call, billed by hand for the reseller's period.
        self.import_csv([csv_line("2026-10-25 10:00:00", 60, A, "0412 555 001", "R2")], rate=True)
        invoice = self.create_invoice(date(2026, 10, 21), date(2026, 10, 31))
        self.assertEqual(self.cdr("R2").invoice_id, invoice)
        self.assertIn("21/10/2026 - 31/10/2026", invoice.invoice_line_ids.name)
        self.assertEqual(invoice.rebilling_period, NOV, "the month it is issued in")
        # Listed with the month's rebilling invoices, next to the run's one.
        run_invoice = self.invoices_of(self.customer_a, NOV) - invoice
        self.assertTrue(run_invoice.rebilling_run_id)
        text = pdf_text(self.env, invoice)
        self.assertIn("Southern Cross Communications", text, "white-label header")
        self.assertIn("062-000", text, "bank details")
        self.assertIn("12345678", text)
        self.assertIn("21/10/2026", text)
        self.assertNotIn("10/21/2026", text)
        # Sendable like the run's invoices, and in the month's CSV.
        invoice.action_rebilling_send()
        self.assertEqual(invoice.rebilling_send_state, "queued")
        wizard = self.env["rebilling.export.wizard"].create({"month": NOV})
        self.assertIn(invoice, wizard._get_moves())
