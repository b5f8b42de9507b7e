"""The PDF as the customer receives it: rendered by the running server with its styling
assets loaded over HTTP, read with poppler's pdftotext and pdffonts."""

import json
from datetime import date
from unittest.mock import patch

from odoo.addons.base.models import ir_actions_report
from odoo.tests import Form, HttpCase, tagged

from .common import VALID_ABN, RebillingCase, run_send_cron
from .common_pdf import PdfAssertions, ReportAssetMirror, pdf_page_images

NOV = date(2026, 11, 1)
FORCE_PDF = json.dumps({"force_report_rendering": True})


@tagged("post_install", "-at_install")
class TestInvoicePdfText(PdfAssertions, RebillingCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({"l10n_au_is_gst_registered": True, "rebilling_auto_invoice": False})
        run = cls.env["rebilling.billing.run"]._get_or_create(cls.company, NOV)
        run.with_context(queue_job__no_delay=True).action_start()
        cls.invoice = cls.env["account.move"].search(
            [("partner_id", "=", cls.customer_a.id), ("rebilling_period", "=", NOV)]
        )
        # Queued as the run does, its send job left to the test (run_send_cron renders the
        # PDF there with the styling assets, as the job runner does in production).
        cls.invoice._rebilling_queue_send()

    def report_pdf(self, moves, report="account.account_invoices"):
        """GET /report/pdf/... as a logged-in user, as the invoice's Print button does."""
        self.authenticate("admin", "admin")
        with ReportAssetMirror(self):
            response = self.url_open(
                f"/report/pdf/{report}/{','.join(map(str, moves.ids))}?context={FORCE_PDF}",
                timeout=60,
            )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/pdf")
        return response.content

    def test_invoice_pdf_of_the_server_has_text(self):
        content = self.report_pdf(self.invoice)
        self.assertTextPdf(
            content,
            "Tax Invoice",
            self.invoice.name,
            f"ABN: {VALID_ABN}",
            "BSB: 062-000",
            "$ 108.90",
        )

    def test_rebilling_pdf_does_not_wait_for_javascript(self):
        """Odoo makes wkhtmltopdf wait report.print_delay (1 s) per PDF for scripts;
        rebilling documents have none to wait for (rebilling.report_print_delay, 0 ms
        by default), other invoices keep Odoo's wait."""
        calls = []
        real = ir_actions_report._run_wkhtmltopdf

        def recording(args):
            calls.append(args)
            return real(args)

        def delay_of(args):
            return args[args.index("--javascript-delay") + 1]

        plain = self.posted_invoice_of_lines([(10.0, 1)])
        self.assertFalse(plain.rebilling_period)
        with patch.object(ir_actions_report, "_run_wkhtmltopdf", recording):
            self.assertTextPdf(self.report_pdf(self.invoice), self.invoice.name)
            self.assertEqual(delay_of(calls[-1]), "0")
            self.report_pdf(plain)
            self.assertEqual(delay_of(calls[-1]), "1000")
            self.env["ir.config_parameter"].set_param("rebilling.report_print_delay", "1000")
            waited = self.report_pdf(self.invoice)
            self.assertEqual(delay_of(calls[-1]), "1000")
        # Nothing is drawn late: the pages are the same pixels with Odoo's wait or without.
        pages = pdf_page_images(self.report_pdf(self.invoice))
        self.assertTrue(pages and all(pages))
        self.assertEqual(pages, pdf_page_images(waited))

    def test_emailed_invoice_pdf_has_text(self):
        """The send step renders the PDF in the job's process; wkhtmltopdf loads the
        styling assets from the running server, as in production."""
        self.assertEqual(self.invoice.rebilling_send_state, "queued")
        smtp = run_send_cron(
            self.env(context=dict(self.env.context, force_report_rendering=True)), self.invoice
        )
        self.assertEqual(self.invoice.rebilling_send_state, "sent")
        to_customer = [m for m in smtp.messages if "invoices@harbour.example.com" in m[1]]
        self.assertEqual(len(to_customer), 1, "the invoice is emailed once")
        mail = self.env["mail.mail"].search(
            [("model", "=", "account.move"), ("res_id", "=", self.invoice.id)]
        )
        attachment = mail.attachment_ids.filtered(lambda a: a.mimetype == "application/pdf")
        self.assertEqual(len(attachment), 1, "the email carries the invoice PDF")
        self.assertTextPdf(
            attachment.raw,
            "Tax Invoice",
            self.invoice.name,
            f"ABN: {VALID_ABN}",
            "BSB: 062-000",
            "$ 108.90",
        )

    def test_credit_note_pdf_has_text(self):
        wizard = Form(
            self.env["account.move.reversal"].with_context(
                active_model="account.move", active_ids=self.invoice.ids
            )
        )
        wizard.reason = "Duplicate billing"
        credit_note = self.env["account.move"].browse(wizard.save().refund_moves()["res_id"])
        credit_note.action_post()
        self.assertTextPdf(
            self.report_pdf(credit_note),
            credit_note.name,
            f"ABN: {VALID_ABN}",
            "$ 108.90",
        )

    def test_preview_pdf_has_text(self):
        """The configuration's Preview invoice, rendered by the server."""
        content = self.company.with_context(force_report_rendering=True)._rebilling_preview_pdf()
        self.assertTextPdf(content, "Tax Invoice", f"ABN: {VALID_ABN}", "BSB: 062-000")
