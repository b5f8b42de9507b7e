from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.addons.rebilling_base.tests.common import run_send_cron
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from .common import NOV, ReviewCase


@tagged("post_install", "-at_install")
class TestReviewFlow(ReviewCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with freeze_time("2026-11-01 01:00:00"):
            cls.billing_run = cls.run_billing(cls, NOV)
        cls.inv_a = cls.invoices_of(cls, cls.customer_a, NOV)
        cls.inv_b = cls.invoices_of(cls, cls.customer_b, NOV)
        cls.invoices = cls.inv_a | cls.inv_b

    def adjust(self, invoice, user_records=None, **values):
        wizard = Form(
            self.env["rebilling.review.adjust.wizard"]
            .with_user(self.approver)
            .with_context(default_move_id=invoice.id, tracking_disable=False)
        )
        for field, value in values.items():
            setattr(wizard, field, value)
        return wizard.save().action_adjust()

    def reissue(self, invoices, when):
        wizard = Form(
            self.env["rebilling.review.reissue.wizard"]
            .with_user(self.approver)
            .with_context(default_move_ids=[(6, 0, invoices.ids)], tracking_disable=False)
        )
        wizard.when = when
        return wizard.save().action_reissue()

    # ------------------------------------------------------------ under review
    def test_new_invoices_wait_under_review(self):
        for inv in self.invoices:
            self.assertEqual(inv.state, "posted", "created and numbered")
            self.assertTrue(inv.name.startswith("AAP-"))
            self.assertEqual(inv.invoice_date, NOV)
            self.assertEqual(inv.rebilling_review_state, "under_review")
            self.assertEqual(inv.payment_state, "blocked", "no payment collection yet")
            self.assertEqual(inv.rebilling_send_state, "pending", "not queued for email")
            self.assertFalse(inv.sending_data)
            self.assertEqual(inv.rebilling_review_deadline, datetime(2026, 11, 6, 1, 0))
        self.assertFalse(self.invoices._rebilling_sendable())
        self.assertEqual(self.billing_run.review_count, 2)

    def test_invoice_under_review_cannot_be_sent_or_paid(self):
        with self.assertRaisesRegex(UserError, "under review"):
            self.inv_a.action_rebilling_send()
        with self.assertRaisesRegex(UserError, "under review"):
            self.inv_a.action_send_and_print()
        with self.assertRaisesRegex(UserError, "under review"):
            self.inv_a.action_register_payment()
        self.assertFalse(self.invoices._rebilling_queue_send())

    # ------------------------------------------------------------ approve
    def test_approve_from_the_form_queues_the_email(self):
        name, invoice_date = self.inv_a.name, self.inv_a.invoice_date
        with freeze_time("2026-11-03 09:00:00"):
            action = self.as_approver(self.inv_a).action_rebilling_review_approve()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(self.inv_a.rebilling_review_state, "approved")
        self.assertEqual(self.inv_a.rebilling_approved_by_id, self.approver)
        self.assertEqual(self.inv_a.rebilling_approved_date, datetime(2026, 11, 3, 9, 0))
        self.assertEqual(self.inv_a.rebilling_send_state, "queued")
        self.assertEqual(self.inv_a.payment_state, "not_paid")
        self.assertFalse(self.inv_a.rebilling_review_deadline)
        # Generated on November 1, approved on the 3rd: the customer sees November 1.
        self.assertEqual((self.inv_a.name, self.inv_a.invoice_date), (name, invoice_date))
        self.assertEqual(self.inv_b.rebilling_review_state, "under_review")
        # The chatter says who approved.
        tracking = self.messages_of(self.inv_a).tracking_value_ids.filtered(
            lambda t: t.field_id.name == "rebilling_review_state"
        )
        self.assertEqual(tracking.old_value_char, "Under review")
        self.assertEqual(tracking.new_value_char, "Approved")
        self.assertEqual(tracking.mail_message_id.author_id, self.approver.partner_id)

    def test_approved_invoice_is_sent_with_its_original_date(self):
        self.as_approver(self.inv_a).action_rebilling_review_approve()
        run_send_cron(self.env, self.inv_a)
        self.assertEqual(self.inv_a.rebilling_send_state, "sent")
        self.assertEqual(self.inv_a.invoice_date, NOV)

    def test_approve_many_from_the_list_action_menu(self):
        action = self.env.ref("rebilling_review.action_server_rebilling_review_approve")
        result = (
            action.with_user(self.approver)
            .with_context(active_model="account.move", active_ids=self.invoices.ids)
            .run()
        )
        self.assertIn("2 invoice(s) approved", result["params"]["message"])
        self.assertEqual(set(self.invoices.mapped("rebilling_review_state")), {"approved"})
        self.assertEqual(set(self.invoices.mapped("rebilling_send_state")), {"queued"})

    def test_approval_says_when_the_email_cannot_be_queued(self):
        self.company.rebilling_sender_confirmed = False
        result = self.as_approver(self.inv_a).action_rebilling_review_approve()
        self.assertEqual(result["params"]["type"], "warning")
        self.assertIn("sender email not verified", result["params"]["message"])
        self.assertEqual(self.inv_a.rebilling_review_state, "approved")
        self.assertEqual(self.inv_a.rebilling_send_state, "failed")

    def test_only_invoices_under_review_can_be_approved(self):
        self.as_approver(self.inv_a).action_rebilling_review_approve()
        with self.assertRaisesRegex(UserError, "Only invoices under review can be approved"):
            self.as_approver(self.invoices).action_rebilling_review_approve()
        self.assertEqual(self.inv_b.rebilling_review_state, "under_review", "all or nothing")

    def test_non_approvers_cannot_change_review_states(self):
        with self.assertRaises(AccessError):
            self.as_clerk(self.inv_a).action_rebilling_review_approve()
        with self.assertRaises(AccessError):
            self.as_clerk(self.inv_a).action_rebilling_review_approve_unflagged()
        with self.assertRaises(AccessError):
            self.as_clerk(self.inv_a).action_rebilling_review_adjust()
        with self.assertRaises(AccessError):
            self.as_clerk(self.inv_a)._rebilling_review_adjust("credit", "Promo", 10.0, self.gst)
        with self.assertRaises(AccessError):
            self.env["rebilling.review.adjust.wizard"].with_user(self.clerk).create(
                {"move_id": self.inv_a.id, "name": "Promo", "amount": 10.0}
            )
        with self.assertRaises(AccessError):
            self.as_clerk(self.inv_a).action_rebilling_review_reissue()
        with self.assertRaises(AccessError):
            self.as_clerk(self.inv_a)._rebilling_review_reject("now")
        with self.assertRaises(AccessError):
            self.as_clerk(self.inv_a).action_rebilling_review_download()
        self.assertEqual(set(self.invoices.mapped("rebilling_review_state")), {"under_review"})
        self.assertEqual(len(self.inv_a.invoice_line_ids), 1)

    # ------------------------------------------------------------ adjust
    def test_adjust_with_a_manual_credit(self):
        name, invoice_date, due = (
            self.inv_a.name,
            self.inv_a.invoice_date,
            self.inv_a.invoice_date_due,
        )
        self.assertAlmostEqual(self.inv_a.amount_total, 108.90)
        action = self.as_approver(self.inv_a).action_rebilling_review_adjust()
        self.assertEqual(action["res_model"], "rebilling.review.adjust.wizard")
        self.adjust(self.inv_a, name="Promotional credit", amount=10.0)
        self.assertEqual(self.inv_a.state, "posted")
        self.assertAlmostEqual(self.inv_a.amount_total, 97.90, msg="108.90 - 10.00 - 1.00 GST")
        self.assertEqual(
            (self.inv_a.name, self.inv_a.invoice_date, self.inv_a.invoice_date_due),
            (name, invoice_date, due),
            "number, date and due date unchanged",
        )
        credit = self.inv_a.invoice_line_ids.filtered(lambda ln: ln.rebilling_line_kind == "manual")
        self.assertEqual(credit.name, "Promotional credit")
        self.assertEqual(credit.price_unit, -10.0)
        self.assertEqual(credit.tax_ids, self.gst, "the company's sales tax by default")
        self.assertEqual(self.inv_a.rebilling_review_state, "under_review", "reviewed again")
        self.assertEqual(self.inv_a.payment_state, "blocked")
        # The chatter tells who did what, with the regenerated invoice attached.
        note = self.messages_of(self.inv_a).filtered(lambda m: "Manual credit" in m.body)
        self.assertEqual(len(note), 1)
        self.assertEqual(note.author_id, self.approver.partner_id)
        self.assertIn("Promotional credit", note.body)
        self.assertIn("97.90", note.body)
        self.assertEqual(len(note.attachment_ids), 1)
        self.assertIn(name.replace("/", "_"), note.attachment_ids.name)
        # The billing run's log follows.
        line = self.billing_run.line_ids.filtered(lambda ln: ln.invoice_id == self.inv_a)
        self.assertAlmostEqual(line.amount_total, 97.90)

    def test_adjust_with_a_manual_charge_without_tax(self):
        self.adjust(
            self.inv_b,
            adjustment_type="charge",
            name="On-site support",
            amount=80.0,
            tax_ids=self.env["account.tax"],
        )
        self.assertAlmostEqual(self.inv_b.amount_total, 110.0 + 80.0)
        charge = self.inv_b.invoice_line_ids.filtered(lambda ln: ln.rebilling_line_kind == "manual")
        self.assertEqual(charge.price_unit, 80.0)
        self.assertFalse(charge.tax_ids)

    def test_adjust_refuses_a_negative_total(self):
        with self.assertRaisesRegex(UserError, "negative"):
            self.adjust(self.inv_a, name="Too much", amount=500.0)
        with self.assertRaisesRegex(UserError, "greater than zero"):
            self.adjust(self.inv_a, name="Nothing", amount=0.0)
        self.assertEqual(self.inv_a.state, "posted", "refused before any change")
        self.assertEqual(len(self.inv_a.invoice_line_ids), 1)

    def test_only_invoices_under_review_can_be_adjusted(self):
        self.as_approver(self.inv_a).action_rebilling_review_approve()
        with self.assertRaisesRegex(UserError, "can be adjusted"):
            self.as_approver(self.inv_a).action_rebilling_review_adjust()

    # ------------------------------------------------------------ reissue
    def test_reissue_now_recalculates_from_the_source_data(self):
        name, invoice_date, due = (
            self.inv_a.name,
            self.inv_a.invoice_date,
            self.inv_a.invoice_date_due,
        )
        self.adjust(self.inv_a, name="Promotional credit", amount=10.0)
        # Source data changed since the run: a new price and a once-off charge.
        self.service_a.price_unit = 120.0
        once = self.env["rebilling.charge"].create(
            {
                "partner_id": self.customer_a.id,
                "name": "Site survey",
                "product_id": self.product_fee.id,
                "charge_type": "once",
                "date_start": NOV,
            }
        )
        action = self.as_approver(self.inv_a).action_rebilling_review_reissue()
        self.assertEqual(action["res_model"], "rebilling.review.reissue.wizard")
        self.reissue(self.inv_a, "now")
        self.assertEqual(self.inv_a.rebilling_review_state, "under_review")
        self.assertEqual(
            (self.inv_a.name, self.inv_a.invoice_date, self.inv_a.invoice_date_due),
            (name, invoice_date, due),
        )
        kinds = sorted(self.inv_a.invoice_line_ids.mapped("rebilling_line_kind"))
        self.assertEqual(kinds, ["manual", "once", "service"], "the manual credit is kept")
        self.assertAlmostEqual(self.inv_a.amount_untaxed, 120.0 + 150.0 - 10.0)
        self.assertEqual(once.invoice_id, self.inv_a, "the once-off charge is billed here")
        # Reissuing again does not bill the once-off charge twice.
        self.reissue(self.inv_a, "now")
        self.assertAlmostEqual(self.inv_a.amount_untaxed, 120.0 + 150.0 - 10.0)
        self.assertEqual(once.invoice_id, self.inv_a)
        messages = self.messages_of(self.inv_a)
        self.assertTrue(messages.filtered(lambda m: "Reissue requested" in m.body))
        reissued = messages.filtered(lambda m: "Reissued from" in m.body)
        self.assertEqual(len(reissued), 2)
        self.assertTrue(reissued[0].attachment_ids, "the regenerated invoice is attached")

    def test_reissue_at_the_off_peak_hour(self):
        self.company.rebilling_tz = "Australia/Sydney"
        self.company.rebilling_reissue_hour = 2
        self.service_b.quantity = 5
        total = self.inv_b.amount_total
        # 2 Nov 16:00 in Sydney (UTC+11): the next off-peak hour is 3 Nov 02:00 (2 Nov 15:00 UTC).
        with freeze_time("2026-11-02 05:00:00"):
            self.reissue(self.inv_b, "off_peak")
        self.assertEqual(self.inv_b.rebilling_review_state, "rejected")
        self.assertEqual(self.inv_b.rebilling_reissue_at, datetime(2026, 11, 2, 15, 0))
        self.assertEqual(self.inv_b.amount_total, total, "nothing recalculated yet")
        with self.assertRaisesRegex(UserError, "can be approved"):
            self.as_approver(self.inv_b).action_rebilling_review_approve()
        self.assertFalse(self.inv_b._rebilling_sendable())
        Move = self.env["account.move"]
        with freeze_time("2026-11-02 14:00:00"), trap_jobs() as trap:
            Move._cron_rebilling_review_reissue()
            trap.assert_jobs_count(0)
        self.assertEqual(self.inv_b.rebilling_review_state, "rejected")
        with freeze_time("2026-11-02 15:05:00"), trap_jobs() as trap:
            Move._cron_rebilling_review_reissue()
            trap.assert_enqueued_job(
                self.inv_b._rebilling_review_reissue_job,
                properties={
                    "identity_key": f"rebilling_reissue:{self.company.id}:{self.inv_b.id}:1"
                },
            )
            self.assertEqual(trap.enqueued_jobs[0].channel, "root.rebilling.review")
            trap.perform_enqueued_jobs()
        self.assertEqual(self.inv_b.rebilling_review_state, "under_review")
        self.assertFalse(self.inv_b.rebilling_reissue_at)
        self.assertAlmostEqual(self.inv_b.amount_untaxed, 125.0)

    def test_failed_reissue_stays_rejected_and_retries(self):
        self.company.rebilling_tz = "UTC"
        self.company.rebilling_reissue_hour = 2
        self.service_b.date_end = NOV - timedelta(days=1)  # nothing to bill any more
        with freeze_time("2026-11-02 05:00:00"):
            self.reissue(self.inv_b, "off_peak")
        with freeze_time("2026-11-03 03:00:00"), trap_jobs() as trap:
            self.env["account.move"]._cron_rebilling_review_reissue()
            trap.perform_enqueued_jobs()
        self.assertEqual(self.inv_b.rebilling_review_state, "rejected")
        self.assertEqual(self.inv_b.state, "posted", "rolled back to its posted self")
        self.assertEqual(self.inv_b.rebilling_reissue_at, datetime(2026, 11, 4, 2, 0))
        self.assertTrue(self.messages_of(self.inv_b).filtered(lambda m: "reissue failed" in m.body))
        self.assertIn("nothing to bill", self.inv_b.rebilling_reissue_error)

    # ------------------------------------------------------------ auto-approval
    def test_auto_approval_after_the_hold_period(self):
        Move = self.env["account.move"]
        with freeze_time("2026-11-05 23:00:00"):
            Move._cron_rebilling_review_auto_approve()
        self.assertEqual(set(self.invoices.mapped("rebilling_review_state")), {"under_review"})
        self.as_approver(self.inv_a).action_rebilling_review_approve()
        with freeze_time("2026-11-06 01:00:00"):
            Move._cron_rebilling_review_auto_approve()
        self.assertEqual(self.inv_b.rebilling_review_state, "approved")
        self.assertEqual(self.inv_b.rebilling_send_state, "queued")
        self.assertEqual(self.inv_b.payment_state, "not_paid")
        self.assertEqual(self.inv_b.invoice_date, NOV)
        self.assertTrue(
            self.messages_of(self.inv_b).filtered(lambda m: "Approved automatically" in m.body)
        )
        self.assertFalse(
            self.messages_of(self.inv_a).filtered(lambda m: "Approved automatically" in m.body)
        )

    def test_cancelled_invoice_is_not_auto_approved(self):
        self.inv_b.button_draft()
        self.inv_b.button_cancel()
        with freeze_time("2026-11-07 00:00:00"):
            self.env["account.move"]._cron_rebilling_review_auto_approve()
        self.assertEqual(self.inv_b.rebilling_review_state, "under_review")
        self.assertEqual(self.inv_b.rebilling_send_state, "cancelled")

    # ------------------------------------------------------------ notification
    def test_approvers_get_one_notification_per_run(self):
        messages = self.messages_of(self.billing_run).filtered(
            lambda m: self.approver.partner_id in m.partner_ids
        )
        self.assertEqual(len(messages), 1)
        self.assertIn("2 invoice(s) are waiting for your review", messages.body)
        url = f"/odoo/rebilling.billing.run/{self.billing_run.id}/action-rebilling_review."
        self.assertIn(url + "action_rebilling_review_run", messages.body)
        self.assertNotIn(self.clerk.partner_id, messages.partner_ids, "approvers only")
        notified = messages.notification_ids.res_partner_id
        self.assertIn(self.approver.partner_id, notified)
        # The link's action lists the invoices of the run under review.
        action = self.billing_run.action_view_review_invoices()
        self.assertEqual(action["context"]["search_default_rebilling_run_id"], self.billing_run.id)
        self.assertEqual(
            self.env["account.move"].search(
                [("rebilling_run_id", "=", self.billing_run.id)]
                + self.env["account.move"]._rebilling_review_domain()
            ),
            self.invoices,
        )
