import io
from datetime import date

from PIL import Image

from odoo import Command
from odoo.tests import Form, HttpCase, tagged
from odoo.tools import file_open

from .common import RebillingCase

NOV = date(2026, 11, 1)


@tagged("post_install", "-at_install")
class TestPortal(RebillingCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = cls.env["res.users"].create(
            {
                "name": "Harbour Portal",
                "login": "harbour_portal",
                "password": "harbour_portal",
                "partner_id": cls.customer_a.id,
                "group_ids": [Command.set([cls.env.ref("base.group_portal").id])],
            }
        )
        cls.run_billing_cls(NOV)
        cls.sent = cls.env["account.move"].search(
            [("partner_id", "=", cls.customer_a.id), ("rebilling_period", "=", NOV)]
        )
        cls.sent.write({"is_move_sent": True, "rebilling_mail_accepted": True})
        cls.other = cls.env["account.move"].search(
            [("partner_id", "=", cls.customer_b.id), ("rebilling_period", "=", NOV)]
        )
        cls.other.write({"is_move_sent": True, "rebilling_mail_accepted": True})
        # A second invoice of customer A, not sent yet.
        cls.env.cr.execute(
            "UPDATE account_move SET rebilling_period = %s WHERE id = %s",
            [date(2026, 10, 1), cls.sent.id],
        )
        cls.env.invalidate_all()
        cls.run_billing_cls(NOV)
        cls.unsent = cls.env["account.move"].search(
            [("partner_id", "=", cls.customer_a.id), ("rebilling_period", "=", NOV)]
        )

    @classmethod
    def run_billing_cls(cls, period):
        run = cls.env["rebilling.billing.run"]._get_or_create(cls.company, period)
        run.line_ids.unlink()
        run.with_context(queue_job__no_delay=True).action_start()

    def test_customer_sees_own_sent_invoices_only(self):
        self.assertEqual(self.sent.rebilling_send_state, "sent")
        self.assertEqual(self.unsent.rebilling_send_state, "pending")
        self.authenticate("harbour_portal", "harbour_portal")
        page = self.url_open("/my/invoices").text
        self.assertIn(self.sent.name, page)
        self.assertNotIn(self.unsent.name, page, "unsent invoices are not on the portal")
        self.assertNotIn(self.other.name, page, "other customers' invoices are not shown")
        detail = self.url_open(f"/my/invoices/{self.sent.id}")
        self.assertEqual(detail.status_code, 200)
        self.assertIn(self.sent.name, detail.text)
        pdf = self.url_open(f"/my/invoices/{self.sent.id}?report_type=pdf")
        self.assertEqual(pdf.status_code, 200)
        for hidden in (self.unsent, self.other):
            response = self.url_open(f"/my/invoices/{hidden.id}", allow_redirects=False)
            self.assertIn(response.status_code, (302, 303, 403, 404))
            self.assertNotIn(hidden.name, response.text)

    def test_portal_shows_the_reseller_logo_and_no_placeholder(self):
        self.authenticate("harbour_portal", "harbour_portal")
        html = self.url_open(f"/my/invoices/{self.sent.id}?report_type=html").text
        logo = self.company.rebilling_logo.decode()
        self.assertIn(logo[:200], html, "the reseller's logo on the document")
        self.assertNotIn("o_company_logo_small", html, "no standard header with its logo slot")
        page = self.url_open(f"/my/invoices/{self.sent.id}").text
        self.assertIn(f"/logo.png?company={self.company.id}", page)
        for url in (f"/my/invoices/{self.sent.id}", "/my/invoices", "/my"):
            with self.subTest(url=url):
                self.assertNotIn("Powered by", self.url_open(url).text, "white label")
        served = self.url_open(f"/logo.png?company={self.company.id}").content
        with file_open("base/static/img/res_company_logo.png", "rb") as placeholder:
            self.assertNotEqual(
                Image.open(io.BytesIO(served)).size,
                Image.open(placeholder).size,
                "the portal header shows the reseller's logo, not Odoo's placeholder",
            )
        self.assertEqual(Image.open(io.BytesIO(served)).size, (100, 60))

    def test_credit_note_of_a_sent_invoice_is_on_the_portal(self):
        wizard = Form(
            self.env["account.move.reversal"].with_context(
                active_model="account.move", active_ids=self.sent.ids
            )
        )
        wizard.reason = "Duplicate billing"
        action = wizard.save().refund_moves()
        credit_note = self.env["account.move"].browse(action["res_id"])
        credit_note.action_post()
        self.assertEqual(credit_note.rebilling_period, self.sent.rebilling_period)
        self.authenticate("harbour_portal", "harbour_portal")
        self.assertNotIn(credit_note.name, self.url_open("/my/invoices").text, "not sent yet")
        credit_note.write({"is_move_sent": True, "rebilling_mail_accepted": True})
        self.assertEqual(credit_note.rebilling_send_state, "sent")
        self.assertIn(credit_note.name, self.url_open("/my/invoices").text)
        detail = self.url_open(f"/my/invoices/{credit_note.id}?report_type=html")
        self.assertEqual(detail.status_code, 200)
        self.assertIn("Adjustment Note", detail.text, "a credit note reads as an adjustment note")

    def test_salesperson_is_the_customers_never_the_job_user(self):
        """The run runs as whoever starts it (OdooBot under the job runner): its name is
        no salesperson the customer can message on the portal."""
        self.assertFalse(self.sent.invoice_user_id, "customer A has no salesperson")
        self.authenticate("harbour_portal", "harbour_portal")
        page = self.url_open(f"/my/invoices/{self.sent.id}").text
        self.assertNotIn("Salesperson", page)
        self.customer_b.user_id = self.env.ref("base.user_admin")
        run = self.env["rebilling.billing.run"]._get_or_create(self.company, date(2026, 12, 1))
        run.with_context(queue_job__no_delay=True).action_start()
        december = run.invoice_ids.filtered(lambda m: m.partner_id == self.customer_b)
        self.assertEqual(december.invoice_user_id, self.env.ref("base.user_admin"))

    def test_login_page_is_white_label(self):
        page = self.url_open("/web/login")
        self.assertEqual(page.status_code, 200)
        self.assertIn("oe_login_form", page.text)
        self.assertNotIn("Powered by", page.text)
