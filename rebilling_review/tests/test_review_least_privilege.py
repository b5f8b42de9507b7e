"""Least privilege, round 2: review flags and the hold change only through the review."""

from datetime import datetime

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import NOV, ReviewCase


@tagged("post_install", "-at_install")
class TestReviewLeastPrivilege(ReviewCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with freeze_time("2026-11-01 01:00:00"):
            cls.run_billing(cls, NOV)
        cls.inv_a = cls.invoices_of(cls, cls.customer_a, NOV)

    def codes(self, invoice):
        return set(invoice.rebilling_review_flag_ids.mapped("code"))

    def test_user_cannot_clear_review_flags(self):
        self.assertEqual(self.codes(self.inv_a), {"first_invoice"})
        for user in (self.clerk, self.approver):
            with self.assertRaises(AccessError, msg=user.login):
                self.inv_a.with_user(user).write({"rebilling_review_flag_ids": [Command.clear()]})
        self.assertEqual(self.codes(self.inv_a), {"first_invoice"})
        self.as_approver(self.inv_a).action_rebilling_review_approve_unflagged()
        self.assertEqual(self.inv_a.rebilling_review_state, "under_review", "still flagged")

    def test_user_cannot_reset_a_held_invoice_to_draft(self):
        with self.assertRaises(AccessError):
            self.as_clerk(self.inv_a).button_draft()
        self.assertEqual(self.inv_a.state, "posted")
        self.assertEqual(self.inv_a.rebilling_review_state, "under_review")

    def test_approver_reset_and_repost_restarts_the_hold(self):
        """Reset, edit and post again by an approver: the hold starts again, flags again."""
        self.assertEqual(self.inv_a.rebilling_review_deadline, datetime(2026, 11, 6, 1, 0))
        self.inv_a.sudo().rebilling_review_flag_ids = False  # stale flags, recomputed below
        total = self.inv_a.amount_total
        with freeze_time("2026-11-05 09:00:00"):
            invoice = self.as_approver(self.inv_a)
            invoice.button_draft()
            invoice.write(
                {
                    "invoice_line_ids": [
                        Command.create({"name": "Extra", "quantity": 1, "price_unit": 178.0})
                    ]
                }
            )
            invoice.action_post()
        self.assertGreater(self.inv_a.amount_total, total)
        self.assertEqual(self.inv_a.rebilling_review_state, "under_review")
        self.assertEqual(self.inv_a.rebilling_review_deadline, datetime(2026, 11, 10, 9, 0))
        self.assertEqual(self.codes(self.inv_a), {"first_invoice"})
        self.assertEqual(self.inv_a.payment_state, "blocked")
