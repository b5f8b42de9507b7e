from datetime import datetime

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged

from .common import NOV, ReviewCase


@tagged("post_install", "-at_install")
class TestReviewSecurity(ReviewCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with freeze_time("2026-11-01 01:00:00"):
            cls.run_billing(cls, NOV)
        cls.inv_a = cls.invoices_of(cls, cls.customer_a, NOV)
        cls.manager = new_test_user(
            cls.env,
            login="review_sec_manager",
            groups="rebilling_base.group_rebilling_manager",
            company_id=cls.company.id,
        )

    def test_review_fields_change_only_through_the_actions(self):
        """Nobody writes the review state or deadline directly, approvers included."""
        for user in (self.clerk, self.manager, self.approver):
            invoice = self.inv_a.with_user(user)
            for vals in (
                {"rebilling_review_state": "approved"},
                {"rebilling_review_deadline": datetime(2026, 10, 1)},
                {"rebilling_reissue_at": datetime(2026, 10, 1)},
            ):
                with self.assertRaises(AccessError, msg=(user.login, vals)):
                    invoice.write(vals)
        self.assertEqual(self.inv_a.rebilling_review_state, "under_review")
        self.assertEqual(self.inv_a.rebilling_review_deadline, datetime(2026, 11, 6, 1, 0))
        # The approver's action does it.
        self.inv_a.with_user(self.approver).action_rebilling_review_approve()
        self.assertEqual(self.inv_a.rebilling_review_state, "approved")
        self.assertEqual(self.inv_a.rebilling_approved_by_id, self.approver)

    def test_shared_review_flags_changed_by_system_admins_only(self):
        flag = self.env["rebilling.review.flag"].search([], limit=1)
        self.assertTrue(flag.with_user(self.manager).name, "readable")
        with self.assertRaises(AccessError):
            flag.with_user(self.manager).active = False
        system = new_test_user(
            self.env,
            login="review_sec_system",
            groups="base.group_system,rebilling_base.group_rebilling_manager",
        )
        flag.with_user(system).color = 5
        self.assertEqual(flag.color, 5)

    def test_send_wizard_refuses_held_invoices(self):
        Wizard = self.env["account.move.send.wizard"].with_user(self.clerk)
        with self.assertRaisesRegex(UserError, "under review"):
            Form(Wizard.with_context(active_model="account.move", active_ids=self.inv_a.ids)).save()

    def test_send_wizard_refuses_an_unconfirmed_sender(self):
        self.inv_a.with_user(self.approver).action_rebilling_review_approve()
        self.inv_a.sending_data = False
        self.company.rebilling_sender_confirmed = False
        Wizard = self.env["account.move.send.wizard"].with_user(self.clerk)
        form = Form(Wizard.with_context(active_model="account.move", active_ids=self.inv_a.ids))
        wizard = form.save()
        self.assertIn("email", wizard.sending_methods)
        with self.assertRaisesRegex(UserError, "sender email not verified"):
            wizard.action_send_and_print()
        self.assertFalse(self.inv_a.is_move_sent)
        # Confirmed, the same wizard sends it.
        self.company.rebilling_sender_confirmed = True
        wizard.action_send_and_print()
        self.assertTrue(self.inv_a.is_move_sent)
