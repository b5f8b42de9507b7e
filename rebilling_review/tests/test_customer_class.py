from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import NOV, ReviewCase


@tagged("post_install", "-at_install")
class TestCustomerClass(ReviewCase):
    def test_form_shows_the_effective_terms(self):
        self.assertEqual(self.enterprise.effective_payment_term_days, 26)
        self.assertEqual(
            self.enterprise.payment_term_display,
            "Net 21 + 5 = 26 days after the invoice date",
        )
        with Form(self.enterprise) as form:
            form.send_policy = "immediately"
            self.assertEqual(form.payment_term_display, "Net 21 days after the invoice date")
        self.assertEqual(self.enterprise.effective_payment_term_days, 21)

    def test_new_class_takes_the_company_terms(self):
        cls = self.env["rebilling.customer.class"].create({"name": "SMB"})
        self.assertEqual(cls.send_policy, "immediately")
        self.assertEqual(cls.payment_term_days, 14)

    def test_review_needs_a_hold_period(self):
        with self.assertRaises(ValidationError):
            self.enterprise.review_hold_days = 0

    def test_due_date_is_extended_by_the_hold(self):
        customer_c = self.customer_off.copy(
            {"name": "Coogee Cafe", "rebilling_enabled": True, "email": "hi@coogee.example.com"}
        )
        self.service_a.copy({"partner_id": customer_c.id})
        self.run_billing(NOV)
        inv_a = self.invoices_of(self.customer_a)
        self.assertEqual(inv_a.invoice_date, NOV)
        self.assertEqual(inv_a.invoice_date_due, NOV + timedelta(days=26), "Net 21 + 5 on hold")
        # Without a class: the company's terms, no review.
        inv_c = self.invoices_of(customer_c)
        self.assertEqual(inv_c.invoice_date_due, NOV + timedelta(days=14))
        self.assertFalse(inv_c.rebilling_review_state)
        self.assertEqual(inv_c.rebilling_send_state, "queued", "Auto Invoice sends it at once")

    def test_class_sending_immediately_keeps_its_terms(self):
        self.enterprise.send_policy = "immediately"
        self.run_billing(NOV)
        inv_a = self.invoices_of(self.customer_a)
        self.assertEqual(inv_a.invoice_date_due, NOV + timedelta(days=21))
        self.assertFalse(inv_a.rebilling_review_state)
        self.assertEqual(inv_a.rebilling_send_state, "queued")
