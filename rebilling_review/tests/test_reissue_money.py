"""Reissue keeps the money right (issue 26): credits kept, a negative total is a credit note.

Amounts computed by hand in the comments (31 days in January)."""

from datetime import date, datetime

from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import ReviewCase

JAN = date(2027, 1, 1)
FEB = date(2027, 2, 1)
MAR = date(2027, 3, 1)


@tagged("post_install", "-at_install")
class TestReissueMoney(ReviewCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("en_AU")
        cls.customer_a.lang = "en_AU"
        cls.service_b.date_end = date(2026, 12, 31)  # customer A alone

    def bill_january(self):
        with freeze_time("2027-01-01 01:00:00"):
            self.run_without_review(JAN)

    def reissue_now(self, invoice):
        wizard = Form(
            self.env["rebilling.review.reissue.wizard"]
            .with_user(self.approver)
            .with_context(default_move_ids=[(6, 0, invoice.ids)])
        )
        wizard.when = "now"
        return wizard.save().action_reissue()

    def bill(self, period):
        with freeze_time(f"{period.isoformat()} 01:00:00"):
            return self.run_billing(period)

    def test_reissue_keeps_the_credit_line(self):
        self.service_a.price_unit = 30.0
        seat = self.env["rebilling.service"].create(
            {
                "partner_id": self.customer_a.id,
                "product_id": self.product_pbx.id,
                "price_unit": 31.0,
                "date_start": date(2026, 1, 1),
            }
        )
        self.bill_january()
        seat.date_end = date(2027, 1, 14)
        self.bill(FEB)
        feb = self.invoices_of(self.customer_a, FEB)
        # 30.00 (NBN, February) - 31.00 x 17/31 unused days (15 to 31 January) = 13.00
        # + 10% GST = 14.30
        self.assertAlmostEqual(feb.amount_total, 14.30)
        self.reissue_now(feb)
        self.assertEqual(feb.state, "posted")
        self.assertEqual(feb.rebilling_review_state, "under_review")
        self.assertAlmostEqual(feb.amount_total, 14.30, msg="the credit line is kept")
        credit = feb.invoice_line_ids.filtered("rebilling_credited_line_id")
        self.assertAlmostEqual(credit.price_subtotal, -17.0)
        # March credits nothing more.
        self.bill(MAR)
        march = self.invoices_of(self.customer_a, MAR)
        self.assertFalse(march.invoice_line_ids.filtered("rebilling_credited_line_id"))
        self.assertAlmostEqual(march.amount_untaxed, 30.0)

    def test_reissue_that_turns_negative_makes_a_credit_note(self):
        self.bill_january()
        run = self.bill(FEB)
        invoice = self.invoices_of(self.customer_a, FEB)
        self.assertAlmostEqual(invoice.amount_untaxed, 99.0)
        self.service_a.date_end = date(2027, 1, 10)
        self.reissue_now(invoice)
        self.assertEqual(invoice.state, "cancel", "replaced, never sent")
        credit_note = self.invoices_of(self.customer_a, FEB).filtered(lambda m: m.state == "posted")
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.rebilling_review_state, "under_review")
        self.assertEqual(credit_note.rebilling_run_id, run)
        # 99.00 x 21/31 unused days (11 to 31 January) = 67.06, + 10% GST = 73.77 credited.
        self.assertAlmostEqual(credit_note.amount_untaxed, 67.06)
        self.assertAlmostEqual(credit_note.amount_total, 73.77)
        credit = credit_note.invoice_line_ids
        self.assertTrue(credit.rebilling_credited_line_id)
        self.assertGreater(credit.balance, 0, "the customer is credited")
        log = run.line_ids.filtered(lambda ln: ln.partner_id == self.customer_a)
        self.assertEqual(log.invoice_id, credit_note)
        # March credits nothing again and bills nothing.
        self.bill(MAR)
        self.assertFalse(self.invoices_of(self.customer_a, MAR))
        # Reissued again with the end date removed: an invoice once more.
        self.service_a.date_end = False
        self.reissue_now(credit_note)
        self.assertEqual(credit_note.state, "cancel")
        again = self.invoices_of(self.customer_a, FEB).filtered(lambda m: m.state == "posted")
        self.assertEqual(again.move_type, "out_invoice")
        self.assertAlmostEqual(again.amount_untaxed, 99.0)

    def test_adjust_of_a_credit_note_keeps_it_a_credit_note(self):
        self.bill_january()
        self.service_a.date_end = date(2027, 1, 10)
        self.bill(FEB)
        credit_note = self.invoices_of(self.customer_a, FEB)
        self.assertEqual(credit_note.move_type, "out_refund")
        # 99.00 x 21/31 = 67.06 credited
        self.assertAlmostEqual(credit_note.amount_untaxed, 67.06)
        wizard = Form(
            self.env["rebilling.review.adjust.wizard"]
            .with_user(self.approver)
            .with_context(default_move_id=credit_note.id)
        )
        wizard.adjustment_type = "credit"
        wizard.name = "Goodwill"
        wizard.amount = 10.0
        wizard.save().action_adjust()
        # A credit adds to what is credited: 77.06
        self.assertAlmostEqual(credit_note.amount_untaxed, 77.06)
        wizard = Form(
            self.env["rebilling.review.adjust.wizard"]
            .with_user(self.approver)
            .with_context(default_move_id=credit_note.id)
        )
        wizard.adjustment_type = "charge"
        wizard.name = "Too much"
        wizard.amount = 100.0
        with self.assertRaisesRegex(UserError, "charge at most the credit note total"):
            wizard.save().action_adjust()

    def test_reissue_after_a_later_catch_up_bills_the_days_once(self):
        """bench/ledger_sim.py (500 customers, seed 1, month 20), by hand: February is
        under review; a recurring charge from 25/02 (7.35 x 1,290.00 a month) is entered
        after February's run; March bills its February days as a catch-up, 4/28 x
        9,481.50 = 1,354.50. February is then reissued: its days are billed by March's
        catch-up already, so February does not bill them again (it billed them twice)."""
        self.bill_january()
        self.bill(FEB).date_started = datetime(2000, 1, 1)  # before the charge's entry
        feb = self.invoices_of(self.customer_a, FEB)
        self.assertEqual(feb.rebilling_review_state, "under_review")
        charge = self.env["rebilling.charge"].create(
            {
                "name": "Licences",
                "partner_id": self.customer_a.id,
                "product_id": self.product_pbx.id,
                "charge_type": "recurring",
                "quantity": 1290.0,
                "price_unit": 7.35,
                "date_start": date(2027, 2, 25),
            }
        )
        self.bill(MAR)
        march = self.invoices_of(self.customer_a, MAR)
        catch_up = march.invoice_line_ids.filtered(
            lambda ln: ln.rebilling_charge_id == charge and "catch-up" in ln.name
        )
        self.assertAlmostEqual(catch_up.price_subtotal, 1354.50)
        feb_total = feb.amount_total
        self.reissue_now(feb)
        self.assertFalse(
            feb.invoice_line_ids.filtered(lambda ln: ln.rebilling_charge_id == charge),
            "25-28/02 are billed by March's catch-up",
        )
        self.assertAlmostEqual(feb.amount_total, feb_total)
        billed = self.env["account.move.line"].search(
            [("rebilling_charge_id", "=", charge.id), ("move_id.state", "=", "posted")]
        )
        self.assertAlmostEqual(sum(billed.mapped("price_subtotal")), 1354.50 + 9481.50)
