"""Counter-examples found by the property-based ledger tests, with the numbers by hand."""

from datetime import date

from freezegun import freeze_time

from odoo.addons.rebilling_base.tests.common import RebillingCase
from odoo.tests import tagged

NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)


@tagged("post_install", "-at_install")
class TestLedgerRegressions(RebillingCase):
    def test_summary_total_subtracts_a_credit_note_of_the_run(self):
        """A's NBN (99.00) billed for November ends on 10/11: December credits the unused
        20/30 days, 66.00 + GST = 72.60, as a credit note. B: 4 x 25.00 + GST = 110.00.
        The month's total on the Summary is 110.00 - 72.60 = 37.40, as in the CSV."""
        with freeze_time("2026-11-01 02:00:00"):
            self.run_billing(NOV)
        self.service_a.date_end = date(2026, 11, 10)
        with freeze_time("2026-12-01 02:00:00"):
            run = self.run_billing(DEC)
        credit = self.invoices_of(self.customer_a, DEC)
        self.assertEqual(credit.move_type, "out_refund")
        self.assertAlmostEqual(credit.amount_total, 72.60)
        self.assertAlmostEqual(run.amount_total, 37.40)
        self.assertAlmostEqual(run.amount_untaxed, 100.0 - 66.0)

    def credit_line(self, invoice, line):
        """Odoo's Credit Note of one line of ``invoice`` (the other lines removed)."""
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"move_ids": [(6, 0, invoice.ids)], "journal_id": invoice.journal_id.id})
        )
        refund = self.env["account.move"].browse(reversal.refund_moves()["res_id"])
        keep = refund.invoice_line_ids.filtered(lambda ln: ln.rebilling_credited_line_id == line)
        refund.write({"invoice_line_ids": [(2, ln.id) for ln in refund.invoice_line_ids - keep]})
        refund.action_post()
        return refund

    def test_end_date_then_credit_note_of_the_line_credits_nothing_twice(self):
        """A's NBN (99.00) billed for November; its end date (22/11) is entered, then the
        November line is credited in full with Odoo's Credit Note: December credits nothing
        more for the unused 23-30/11 (the customer got all 99.00 back already)."""
        with freeze_time("2026-11-01 02:00:00"):
            self.run_billing(NOV)
        nov = self.invoices_of(self.customer_a, NOV)
        self.service_a.date_end = date(2026, 11, 22)
        self.credit_line(nov, nov.invoice_line_ids.filtered("rebilling_service_id"))
        with freeze_time("2026-12-01 02:00:00"):
            self.run_billing(DEC)
        dec = self.invoices_of(self.customer_a, DEC).filtered(lambda m: m.rebilling_run_id)
        self.assertFalse(
            dec.invoice_line_ids.filtered(lambda ln: ln.rebilling_service_id == self.service_a),
            "no second credit of 23-30/11",
        )

    def test_credit_note_of_the_line_then_end_date_credits_nothing_twice(self):
        """The other order: November's NBN line credited in full, then the end date 22/11."""
        with freeze_time("2026-11-01 02:00:00"):
            self.run_billing(NOV)
        nov = self.invoices_of(self.customer_a, NOV)
        self.credit_line(nov, nov.invoice_line_ids.filtered("rebilling_service_id"))
        self.service_a.date_end = date(2026, 11, 22)
        with freeze_time("2026-12-01 02:00:00"):
            self.run_billing(DEC)
        dec = self.invoices_of(self.customer_a, DEC).filtered(lambda m: m.rebilling_run_id)
        self.assertFalse(
            dec.invoice_line_ids.filtered(lambda ln: ln.rebilling_service_id == self.service_a),
            "no second credit of 23-30/11",
        )

    def test_credit_note_of_a_line_credited_in_part_credits_only_the_rest(self):
        """bench/ledger_sim.py --customers 100 --months 12 --seed 4, shrunk: A's NBN (99.00)
        billed for November ends on 22/11; December credits the unused 23-30/11, 8/30 x
        99.00 = 26.40 (a credit note of 29.04). Then November's NBN line is credited with
        Odoo's Credit Note: it credits what the line still bills, 99.00 - 26.40 = 72.60
        (+ GST 7.26 = 79.86), not 99.00 again; November nets to 0 and January credits
        nothing more."""
        with freeze_time("2026-11-01 02:00:00"):
            self.run_billing(NOV)
        nov = self.invoices_of(self.customer_a, NOV)
        self.service_a.date_end = date(2026, 11, 22)
        with freeze_time("2026-12-01 02:00:00"):
            self.run_billing(DEC)
        dec = self.invoices_of(self.customer_a, DEC).filtered("rebilling_run_id")
        self.assertEqual(dec.move_type, "out_refund")
        self.assertAlmostEqual(dec.amount_untaxed, 26.40)
        nbn = nov.invoice_line_ids.filtered("rebilling_service_id")
        refund = self.credit_line(nov, nbn)
        self.assertAlmostEqual(refund.amount_untaxed, 72.60)
        self.assertAlmostEqual(refund.amount_total, 79.86)
        credit = refund.invoice_line_ids
        self.assertEqual(credit.rebilling_credited_line_id, nbn)
        self.assertIn(dec.name, credit.name, "the label names what credited the rest")
        net = nbn.price_subtotal - dec.amount_untaxed - refund.amount_untaxed
        self.assertAlmostEqual(net, 0.0, msg="November's NBN nets to 0")
        with freeze_time("2027-01-01 02:00:00"):
            self.run_billing(date(2027, 1, 1))
        jan = self.invoices_of(self.customer_a, date(2027, 1, 1)).filtered("rebilling_run_id")
        self.assertFalse(
            jan.invoice_line_ids.filtered(lambda ln: ln.rebilling_service_id == self.service_a),
            "no second credit of November",
        )
