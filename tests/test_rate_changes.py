"""Issue 26, case 14: a rate entered or corrected after the calls were rated applies.

Standard plan of the rebilling_voip tests: national 0.10/min in 60 s blocks,
mobile 0.20/min in 30 s then 1 s blocks. Customer A's number: +61 2 9999 0001.
"""

from datetime import date

from freezegun import freeze_time

from odoo.addons.rebilling_voip.tests.common import DEC, NOV, VoipCase, csv_line
from odoo.tests import Form, tagged

A = "+61299990001"


@tagged("post_install", "-at_install")
class TestRateChanges(VoipCase):
    def edit_rate(self, group, **values):
        """Edit the plan's rate of ``group`` in the plan form, as a user does."""
        index = self.plan.rate_ids.ids.index(
            self.plan.rate_ids.filtered(lambda r: r.destination_group_id == group).id
        )
        with Form(self.plan) as plan, plan.rate_ids.edit(index) as rate:
            for field, value in values.items():
                setattr(rate, field, value)

    def add_rate(self, group, **values):
        with Form(self.plan) as plan, plan.rate_ids.new() as rate:
            rate.destination_group_id = group
            for field, value in values.items():
                setattr(rate, field, value)

    def usage_total(self, invoice):
        lines = invoice.invoice_line_ids.filtered(lambda ln: ln.rebilling_line_kind == "usage")
        return round(sum(lines.mapped("price_subtotal")), 2)

    def test_corrected_rate_prices_the_rated_calls_again(self):
        self.import_csv(
            [csv_line("2026-10-05 10:00:00", 125, A, "(03) 9000 1000", "N1")], rate=True
        )
        call = self.cdr("N1")
        self.assertEqual((call.state, call.price), ("rated", 0.30), "3 minutes at 0.10")
        self.edit_rate(self.g_national, rate_per_minute=0.20)
        self.assertAlmostEqual(call.price, 0.60, msg="rated again at 0.20: 3 x 0.20")
        with freeze_time("2026-11-01 02:00:00"):
            self.run_billing(NOV)
        self.assertAlmostEqual(self.usage_total(self.invoices_of(self.customer_a, NOV)), 0.60)
        # Once invoiced, a call keeps the price it was billed at.
        self.edit_rate(self.g_national, rate_per_minute=0.50)
        self.assertEqual((call.state, call.price), ("invoiced", 0.60))

    def test_rate_entered_later_applies_from_its_date(self):
        self.import_csv(
            [
                csv_line("2026-11-10 10:00:00", 90, A, "0412 555 001", "M1"),  # 0.30
                csv_line("2026-11-20 10:00:00", 90, A, "0412 555 002", "M2"),  # 0.30
            ],
            rate=True,
        )
        # A new mobile rate from 15/11 entered after the calls were rated: 0.40/min.
        self.add_rate(
            self.g_mobile,
            date_from=date(2026, 11, 15),
            rate_per_minute=0.40,
            first_block=30,
            next_block=1,
        )
        self.assertAlmostEqual(self.cdr("M1").price, 0.30)
        self.assertAlmostEqual(self.cdr("M2").price, 0.60, msg="90 s at 0.40/min")
        with freeze_time("2026-12-01 02:00:00"):
            self.run_billing(DEC)
        self.assertAlmostEqual(self.usage_total(self.invoices_of(self.customer_a, DEC)), 0.90)
