import io

import openpyxl

from odoo.tests import HttpCase, new_test_user, tagged

from .common import NOV, VoipCase, csv_line

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@tagged("post_install", "-at_install")
class TestPortalCallList(VoipCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_a = new_test_user(
            cls.env, login="portal_a", password="portal_a", groups="base.group_portal"
        )
        cls.portal_a.partner_id.parent_id = cls.customer_a
        lines = [
            csv_line("2026-10-05 10:00:00", 60, "+61299990001", "0412 888 001", "PA1"),
            csv_line("2026-10-05 11:00:00", 60, "(03) 9999 0002", "0412 888 002", "PB1"),
        ]
        text = "\n".join(["start_time,duration,caller,called,call_id,cost", *lines]) + "\n"
        cls.env["rebilling.cdr.import"]._import_file(cls.fmt, text.encode(), "portal.csv")
        cls.run_billing_cls()
        cls.inv_a = cls.env["account.move"].search([("partner_id", "=", cls.customer_a.id)])
        cls.inv_b = cls.env["account.move"].search([("partner_id", "=", cls.customer_b.id)])
        # Shared users see rebilling invoices once they are sent.
        (cls.inv_a | cls.inv_b).write({"is_move_sent": True, "rebilling_mail_accepted": True})

    @classmethod
    def run_billing_cls(cls):
        run = cls.env["rebilling.billing.run"]._get_or_create(cls.company, NOV)
        run.with_context(queue_job__no_delay=True).action_start()

    def test_own_call_list_only(self):
        self.assertEqual(self.inv_a.rebilling_call_count, 1)
        self.assertEqual(self.inv_a.rebilling_send_state, "sent")
        self.authenticate("portal_a", "portal_a")
        own = self.url_open(f"/my/invoices/{self.inv_a.id}/calls")
        self.assertEqual(own.status_code, 200)
        self.assertEqual(own.headers["Content-Type"], XLSX)
        self.assertTrue(own.content.startswith(b"PK"), "an XLSX (zip) file")
        page = self.url_open(f"/my/invoices/{self.inv_a.id}")
        self.assertIn(f"/my/invoices/{self.inv_a.id}/calls", page.text)
        other = self.url_open(f"/my/invoices/{self.inv_b.id}/calls", allow_redirects=False)
        self.assertIn(other.status_code, (303, 302, 403))
        self.assertNotEqual(other.headers.get("Content-Type"), XLSX)
        if other.status_code != 403:
            self.assertTrue(other.headers["Location"].endswith("/my"))

    def test_access_token_link(self):
        # The link of the invoice email works without an account, with the token only.
        url = self.inv_b._rebilling_portal_call_list_url()
        self.assertIn("access_token=", url)
        response = self.url_open(url)
        self.assertEqual(response.headers["Content-Type"], XLSX)
        forged = self.url_open(
            f"/my/invoices/{self.inv_b.id}/calls?access_token=wrong", allow_redirects=False
        )
        self.assertNotEqual(forged.status_code, 200)

    def test_one_call_and_the_gst_of_the_call_list(self):
        """The document says "1 call"; the call list says its prices exclude GST."""
        self.authenticate("portal_a", "portal_a")
        html = self.url_open(f"/my/invoices/{self.inv_a.id}?report_type=html").text
        self.assertIn(": 1 call, 1.0 min", html)
        self.assertNotIn("1 calls", html)
        response = self.url_open(f"/my/invoices/{self.inv_a.id}/calls")
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        headers = [cell.value for cell in sheet[1]]
        self.assertEqual(headers[-1], "Price (excl. GST)", "the usage lines add GST")
