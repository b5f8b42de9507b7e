from datetime import date
from unittest.mock import patch

from odoo.tests import tagged

from .common import NOV, OCT, ReviewCase

JUL = date(2026, 7, 1)
AUG = date(2026, 8, 1)
SEP = date(2026, 9, 1)


@tagged("post_install", "-at_install")
class TestReviewFlags(ReviewCase):
    def codes(self, invoice):
        return set(invoice.rebilling_review_flag_ids.mapped("code"))

    def add_once_off(self, partner, amount, day=NOV):
        return self.env["rebilling.charge"].create(
            {
                "partner_id": partner.id,
                "name": "Cabling",
                "product_id": self.product_fee.id,
                "price_unit": amount,
                "charge_type": "once",
                "date_start": day,
            }
        )

    def bill_history(self):
        """July to October; A's July invoice is ten times its usual total."""
        self.add_once_off(self.customer_a, 900.0, JUL)
        for period in (JUL, AUG, SEP, OCT):
            self.run_without_review(period)

    def test_first_invoice_is_flagged(self):
        self.run_billing(NOV)
        for partner in self.customer_a | self.customer_b:
            self.assertEqual(self.codes(self.invoices_of(partner, NOV)), {"first_invoice"})

    def test_steady_customers_are_not_flagged(self):
        self.run_without_review(OCT)
        self.assertFalse(self.invoices_of(self.customer_a, OCT).rebilling_review_flag_ids)
        self.run_billing(NOV)
        for partner in self.customer_a | self.customer_b:
            self.assertFalse(self.codes(self.invoices_of(partner, NOV)))

    def test_bill_shock_against_the_average_of_the_last_3_invoices(self):
        self.bill_history()  # A's July invoice is older than the last 3: not in the average
        self.add_once_off(self.customer_a, 40.0)  # 99 + 40 = +40 %
        self.add_once_off(self.customer_b, 20.0)  # 100 + 20 = +20 %
        self.run_billing(NOV)
        inv_a, inv_b = (
            self.invoices_of(self.customer_a, NOV),
            self.invoices_of(self.customer_b, NOV),
        )
        self.assertEqual(self.codes(inv_a), {"bill_shock"}, "40 % above average > 30 %")
        self.assertFalse(self.codes(inv_b), "20 % above average <= 30 %")
        # A lower total shocks as much as a higher one; the threshold is the company's.
        self.company.rebilling_review_shock_percent = 10.0
        inv_b._rebilling_review_update_flags()
        self.assertEqual(self.codes(inv_b), {"bill_shock"})
        self.company.rebilling_review_shock_percent = 0.0  # disabled
        inv_b._rebilling_review_update_flags()
        self.assertFalse(self.codes(inv_b))

    def test_history_is_the_last_3_invoices(self):
        self.bill_history()
        self.run_billing(NOV)
        nov = self.invoices_of(self.customer_a, NOV)
        history = nov._rebilling_review_history(self.company, NOV)
        self.assertEqual(history[self.customer_a.id], [108.90, 108.90, 108.90], "Aug to Oct")
        aug = self.invoices_of(self.customer_a, AUG)
        history = aug._rebilling_review_history(self.company, AUG)
        self.assertEqual(history[self.customer_a.id], [1098.90], "July only")
        self.assertFalse(self.codes(nov), "not compared with July")

    def test_flags_follow_an_adjustment(self):
        self.run_without_review(OCT)
        self.run_billing(NOV)
        inv_a = self.invoices_of(self.customer_a, NOV)
        self.as_approver(inv_a)._rebilling_review_adjust("charge", "Cabling", 300.0, self.gst)
        self.assertEqual(self.codes(inv_a), {"bill_shock"})

    def test_usage_flags_come_from_the_hook(self):
        """``rebilling_voip`` extends ``_rebilling_review_flags``: any code it returns is stored."""
        Move = type(self.env["account.move"])
        original = Move._rebilling_review_flags

        def with_usage_flags(moves):
            result = original(moves)
            for move in moves.filtered(lambda m: m.partner_id == self.customer_b):
                result[move.id] |= {"zero_usage", "negative_margin", "unmatched_cdr", "unknown"}
            return result

        self.run_without_review(OCT)
        with patch.object(Move, "_rebilling_review_flags", with_usage_flags):
            self.run_billing(NOV)
        self.assertFalse(self.codes(self.invoices_of(self.customer_a, NOV)))
        self.assertEqual(
            self.codes(self.invoices_of(self.customer_b, NOV)),
            {"zero_usage", "negative_margin", "unmatched_cdr"},
            "unknown codes are ignored",
        )

    def test_filters_and_approve_all_unflagged(self):
        self.run_without_review(OCT)
        customer_c = self.customer_b.copy({"name": "Coogee Cafe"})
        self.service_b.copy({"partner_id": customer_c.id, "date_start": NOV})
        self.run_billing(NOV)
        inv_c = self.invoices_of(customer_c, NOV)
        Move = self.env["account.move"]
        review = Move._rebilling_review_domain()
        self.assertEqual(Move.search(review + [("rebilling_review_flag_ids", "!=", False)]), inv_c)
        self.assertEqual(
            Move.search(review + [("rebilling_review_flag_ids.code", "=", "first_invoice")]), inv_c
        )
        result = self.as_approver(Move).action_rebilling_review_approve_unflagged()
        self.assertIn("2 invoice(s) without flags approved", result["params"]["message"])
        self.assertEqual(self.invoices_of(self.customer_a, NOV).rebilling_review_state, "approved")
        self.assertEqual(self.invoices_of(self.customer_b, NOV).rebilling_review_state, "approved")
        self.assertEqual(inv_c.rebilling_review_state, "under_review", "flagged: needs a look")
        result = self.as_approver(Move).action_rebilling_review_approve_unflagged()
        self.assertEqual(result["params"]["type"], "info")

    # ------------------------------------------------------------ approve unflagged: scope
    def _two_unflagged(self):
        self.run_without_review(OCT)
        self.run_billing(NOV)
        inv_a = self.invoices_of(self.customer_a, NOV)
        inv_b = self.invoices_of(self.customer_b, NOV)
        self.assertFalse((inv_a | inv_b).rebilling_review_flag_ids)
        return inv_a, inv_b

    def test_approve_unflagged_acts_on_the_list_filter(self):
        inv_a, inv_b = self._two_unflagged()
        Move = self.as_approver(self.env["account.move"]).with_context(
            active_model="account.move",
            active_domain=[("partner_id", "=", self.customer_a.id)],
        )
        result = Move.action_rebilling_review_approve_unflagged()
        self.assertIn("1 invoice(s) without flags approved", result["params"]["message"])
        self.assertEqual(inv_a.rebilling_review_state, "approved")
        self.assertEqual(inv_b.rebilling_review_state, "under_review", "filtered out of the list")

    def test_approve_unflagged_acts_on_the_current_company_only(self):
        inv_a, inv_b = self._two_unflagged()
        other = self.env["res.company"].create({"name": "Other Reseller"})
        self.approver.company_ids |= other
        # An invoice under review of the approver's other company (moved there as data).
        self.env.cr.execute(
            "UPDATE account_move SET company_id = %s WHERE id = %s", [other.id, inv_b.id]
        )
        self.env.invalidate_all()
        Move = self.as_approver(self.env["account.move"])
        result = Move.action_rebilling_review_approve_unflagged()
        self.assertIn("1 invoice(s) without flags approved", result["params"]["message"])
        self.assertEqual(inv_a.rebilling_review_state, "approved")
        self.assertEqual(inv_b.rebilling_review_state, "under_review", "another company's")
