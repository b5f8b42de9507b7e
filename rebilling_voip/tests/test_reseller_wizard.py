from datetime import date

from freezegun import freeze_time

from odoo.addons.rebilling_base.tests.common import VALID_ABN
from odoo.addons.rebilling_base.tests.common_pdf import PdfAssertions
from odoo.exceptions import UserError
from odoo.tests import Form, HttpCase, tagged

from .common import HEADER, VoipCase, csv_line

A = "+61299990001"


@tagged("post_install", "-at_install")
class TestResellerInvoiceWizard(VoipCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write(
            {"rebilling_number_pattern": "%num%/%year%", "rebilling_invoice_start": 100001}
        )

    def calls(self, *stamps):
        first = self.Cdr.search_count([])
        ids = [f"P{first + i}" for i in range(len(stamps))]
        lines = [
            csv_line(stamp, 60, A, f"0412 777 {first + i:03d}", call_id)
            for i, (stamp, call_id) in enumerate(zip(stamps, ids, strict=True))
        ]
        imp = self.import_csv(lines, rate=False)
        self.assertEqual(imp.imported_count, len(stamps))
        self.rate_all()
        return [self.cdr(call_id) for call_id in ids]

    def open_wizard(self, start, end):
        """The "Create invoice" button of the customer's Invoices tab."""
        action = self.customer_a.action_rebilling_reseller_invoice()
        form = Form(self.env[action["res_model"]].with_context(**action["context"]))
        form.date_start = start
        form.date_end = end
        return form.save()

    def test_calculate_creates_nothing_and_end_day_is_whole(self):
        inside = self.calls("2026-10-01 00:00:00", "2026-10-15 12:00:00", "2026-10-31 23:59:59")
        outside = self.calls("2026-09-30 23:59:59", "2026-11-01 00:00:00")
        moves_before = self.env["account.move"].search_count([])
        wizard = self.open_wizard(date(2026, 10, 1), date(2026, 10, 31))
        wizard.action_calculate()
        self.assertEqual(wizard.state, "calculated")
        self.assertEqual(wizard.call_count, 3, "31 October counts to 23:59:59")
        self.assertAlmostEqual(wizard.amount_untaxed, 0.60)  # 3 x 60 s mobile at 0.20/min
        self.assertEqual(wizard.line_ids.destination_group_id, self.g_mobile)
        self.assertEqual(wizard.line_ids.call_count, 3)
        self.assertEqual(self.env["account.move"].search_count([]), moves_before)
        self.assertEqual({c.state for c in inside + outside}, {"rated"})

    def test_end_day_in_company_time(self):
        self.company.rebilling_tz = "Australia/Sydney"  # +11 on 31 October 2026
        last_second, next_day = self.calls("2026-10-31 12:59:59", "2026-10-31 13:00:00")
        wizard = self.open_wizard(date(2026, 10, 1), date(2026, 10, 31))
        wizard.action_calculate()
        self.assertEqual(wizard.call_count, 1)
        wizard.action_save()
        self.assertEqual(last_second.invoice_id, wizard.invoice_id)
        self.assertEqual(next_day.state, "rated")

    @freeze_time("2026-11-05")
    def test_save_numbers_and_view(self):
        calls = self.calls("2026-10-03 10:00:00", "2026-10-04 10:00:00")
        intl = self.import_csv([csv_line("2026-10-05 10:00:00", 150, A, "+1 415 555 0100", "US1")])
        self.assertEqual(intl.imported_count, 1)
        self.rate_all()
        wizard = self.open_wizard(date(2026, 10, 1), date(2026, 10, 31))
        wizard.action_calculate()
        # Numbers come from a PostgreSQL sequence: other tests may have taken some.
        n = self.company.rebilling_sequence_id.number_next_actual
        wizard.action_save()
        invoice = wizard.invoice_id
        self.assertEqual(wizard.state, "saved")
        self.assertEqual(invoice.name, f"{n}/2026", "the company's numbering pattern")
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.partner_id, self.customer_a)
        self.assertEqual(invoice.invoice_date, date(2026, 11, 5))
        self.assertEqual(
            (invoice.rebilling_usage_from, invoice.rebilling_usage_to),
            (date(2026, 10, 1), date(2026, 10, 31)),
        )
        usage = invoice.invoice_line_ids
        self.assertEqual(usage.rebilling_destination_group_id, self.g_mobile | self.g_zone1)
        self.assertAlmostEqual(invoice.amount_untaxed, 0.40 + 0.24)
        self.assertEqual({c.invoice_id for c in calls}, {invoice})
        self.assertTrue(invoice.rebilling_call_list_id)
        action = wizard.action_view()
        self.assertEqual((action["res_model"], action["res_id"]), ("account.move", invoice.id))
        # The customer's Invoices tab lists it; a second invoice of the period has nothing left.
        self.assertIn(invoice, self.customer_a.rebilling_customer_invoice_ids)
        again = self.open_wizard(date(2026, 10, 1), date(2026, 10, 31))
        again.action_calculate()
        self.assertEqual(again.call_count, 0)
        with self.assertRaises(UserError):
            again.action_save()
        # The next one continues the numbering; the usage summary prints on it.
        self.calls("2026-11-02 10:00:00")
        third = self.open_wizard(date(2026, 11, 1), date(2026, 11, 30))
        third.action_save()
        self.assertEqual(third.invoice_id.name, f"{n + 1}/2026")
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("account.account_invoices", invoice.ids)[0]
            .decode()
        )
        self.assertIn("Call usage by destination", html)

    def test_period_must_be_ordered(self):
        wizard = self.open_wizard(date(2026, 10, 31), date(2026, 10, 1))
        with self.assertRaises(UserError):
            wizard.action_calculate()


@tagged("post_install", "-at_install")
class TestResellerInvoicePdf(PdfAssertions, VoipCase, HttpCase):
    def test_reseller_period_invoice_is_a_white_label_text_pdf(self):
        """Rendered as the send step does, with the styling assets of the running server."""
        self.company.l10n_au_is_gst_registered = True
        text = "\n".join([HEADER, csv_line("2026-10-03 10:00:00", 60, A, "0412 777 001", "R1")])
        self.env["rebilling.cdr.import"]._import_file(self.fmt, text.encode() + b"\n", "r.csv")
        self.rate_all()
        action = self.customer_a.action_rebilling_reseller_invoice()
        form = Form(self.env[action["res_model"]].with_context(**action["context"]))
        form.date_start = date(2026, 10, 1)
        form.date_end = date(2026, 10, 31)
        wizard = form.save()
        wizard.action_calculate()
        wizard.action_save()
        invoice = wizard.invoice_id
        self.assertFalse(invoice.rebilling_run_id, "a usage invoice of a chosen period")
        self.assertEqual(invoice.rebilling_usage_from, date(2026, 10, 1))
        content = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf("account.account_invoices", invoice.ids)[0]
        )
        self.assertTextPdf(
            content,
            "Tax Invoice",
            invoice.name,
            f"ABN: {VALID_ABN}",
            "Southern Cross Communications",
            "BSB: 062-000",
            "Call usage by destination",
        )
