"""Through the doors: the zip download route, the portal, and the browser tours."""

import io
import zipfile

from odoo.addons.rebilling_base.tests.common import run_send_cron
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import DEC, NOV, OCT, ReviewCase


@tagged("post_install", "-at_install")
class TestReviewHttp(ReviewCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Coogee Cafe is new (its first invoice is flagged); A and B were billed in October.
        cls.customer_c = cls.customer_b.copy({"name": "Coogee Cafe"})
        cls.service_b.copy({"partner_id": cls.customer_c.id, "date_start": NOV})
        cls.run_without_review(cls, OCT)
        cls.run_billing(cls, NOV)
        cls.inv_a = cls.invoices_of(cls, cls.customer_a, NOV)
        cls.inv_b = cls.invoices_of(cls, cls.customer_b, NOV)
        cls.inv_c = cls.invoices_of(cls, cls.customer_c, NOV)
        cls.portal_user = new_test_user(
            cls.env, login="harbour_portal", groups="base.group_portal", name="Hana Harbour"
        )
        cls.portal_user.partner_id.parent_id = cls.customer_a

    def send(self, invoices):
        """What the sending cron does for queued invoices."""
        run_send_cron(self.env, invoices)

    # ------------------------------------------------------------ zip download
    def test_download_the_selected_invoices_as_one_zip(self):
        invoices = self.inv_a | self.inv_b
        action = self.as_approver(invoices).action_rebilling_review_download()
        self.assertEqual(action["type"], "ir.actions.act_url")
        self.authenticate("finance_reviewer", "finance_reviewer")
        response = self.url_open(action["url"])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/zip")
        self.assertIn("invoices.zip", response.headers["Content-Disposition"])
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            names = sorted(archive.namelist())
            self.assertEqual(len(names), 2)
            for invoice, name in zip(invoices.sorted("name"), names, strict=True):
                self.assertTrue(name.startswith(invoice.name.replace("/", "_")))
                self.assertIn(invoice.partner_id.name, archive.read(name).decode())

    def test_zip_download_is_for_approvers(self):
        url = f"/rebilling/review/invoices.zip?ids={self.inv_a.id}"
        self.authenticate("billing_clerk", "billing_clerk")
        self.assertEqual(self.url_open(url).status_code, 403)
        self.authenticate("harbour_portal", "harbour_portal")
        self.assertEqual(self.url_open(url).status_code, 403)
        self.authenticate("finance_reviewer", "finance_reviewer")
        self.assertEqual(self.url_open(url + ",abc").status_code, 400)

    # ------------------------------------------------------------ portal
    def test_portal_never_shows_an_invoice_under_review(self):
        Move = self.env["account.move"].with_user(self.portal_user)
        self.assertFalse(Move.search([("id", "=", self.inv_a.id)]))
        with self.assertRaises(AccessError):
            self.inv_a.with_user(self.portal_user).check_access("read")
        self.as_approver(self.inv_a).action_rebilling_review_approve()
        self.assertFalse(Move.search([("id", "=", self.inv_a.id)]), "queued is not sent yet")
        self.send(self.inv_a)
        self.assertEqual(self.inv_a.rebilling_send_state, "sent")
        self.assertEqual(Move.search([("id", "=", self.inv_a.id)]), self.inv_a)

    # ------------------------------------------------------------ browser tours
    def test_tour_finance_user_reviews_the_run(self):
        self.start_tour("/odoo", "rebilling_review_tour", login="finance_reviewer")
        self.assertEqual(self.inv_a.rebilling_review_state, "approved")
        self.assertEqual(self.inv_b.rebilling_review_state, "approved")
        self.assertEqual(self.inv_c.rebilling_review_state, "under_review")
        credit = self.inv_c.invoice_line_ids.filtered(lambda ln: ln.name == "Welcome credit")
        self.assertEqual(credit.price_unit, -5.0)
        self.assertEqual(self.inv_c.invoice_date, NOV)

    def test_tour_notification_link_opens_the_invoices_of_the_run(self):
        run = self.inv_a.rebilling_run_id
        message = self.messages_of(run).filtered(
            lambda m: self.approver.partner_id in m.partner_ids
        )
        url = run._rebilling_review_url()
        self.assertIn(url, message.body)
        self.start_tour(url, "rebilling_review_link_tour", login="finance_reviewer")

    def test_tour_portal_shows_the_approved_invoice_only(self):
        self.as_approver(self.inv_a).action_rebilling_review_approve()
        self.send(self.inv_a)
        self.run_billing(DEC)
        dec = self.invoices_of(self.customer_a, DEC)
        self.assertEqual(dec.rebilling_review_state, "under_review")
        self.start_tour(
            f"/my/invoices?seen={self.inv_a.name}&hidden={dec.name}",
            "rebilling_review_portal_tour",
            login="harbour_portal",
        )
