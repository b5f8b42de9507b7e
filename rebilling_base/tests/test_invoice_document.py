"""The document the customer receives: tax invoice, language, white label."""

from datetime import date

from odoo.tests import Form, tagged

from .common import VALID_ABN, RebillingCase, pdf_to_text

NOV = date(2026, 11, 1)


def pdf_text(env, invoice):
    """The text of the invoice PDF as wkhtmltopdf renders it (pdftotext)."""
    content, _type = (
        env["ir.actions.report"]
        .with_context(force_report_rendering=True)
        ._render_qweb_pdf("account.account_invoices", invoice.ids)
    )
    return pdf_to_text(content)


@tagged("post_install", "-at_install")
class TestTaxInvoice(RebillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("en_AU")
        cls.customer_a.lang = "en_AU"
        cls.customer_b.lang = "en_US"

    def test_gst_registered_company_prints_a_tax_invoice_in_the_customer_language(self):
        with Form(self.company, view="rebilling_base.res_company_rebilling_form") as form:
            form.l10n_au_is_gst_registered = True
        self.run_billing(NOV)
        invoice = self.invoices_of(self.customer_a)
        label = invoice.invoice_line_ids.filtered("rebilling_service_id").name
        self.assertIn("01/11/2026 - 30/11/2026", label, "line labels in the customer's language")
        us_label = self.invoices_of(self.customer_b).invoice_line_ids[0].name
        self.assertIn("11/01/2026 - 11/30/2026", us_label)
        text = pdf_text(self.env, invoice)
        self.assertIn("Tax Invoice", text)
        self.assertIn(invoice.name, text)
        self.assertIn("01/11/2026", text)
        self.assertNotIn("11/01/2026", text)
        self.assertIn(f"ABN: {VALID_ABN}", text)
        self.assertIn("GST", text)
        self.assertIn("$ 108.90", text.replace("\xa0", " "), "total with 10% GST on 99.00")
