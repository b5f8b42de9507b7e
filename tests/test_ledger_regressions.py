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
