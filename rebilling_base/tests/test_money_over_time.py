"""Money over time (issue 26): every service-day and charge billed exactly once,
whatever changes after the first invoice. Amounts computed by hand in the comments."""

from datetime import date, datetime

from freezegun import freeze_time

from odoo.tests import Form, tagged

from .common import RebillingCase

JAN = date(2027, 1, 1)
FEB = date(2027, 2, 1)
MAR = date(2027, 3, 1)
APR = date(2027, 4, 1)


@tagged("post_install", "-at_install")
class TestMoneyOverTime(RebillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("en_AU")
        (cls.customer_a | cls.customer_b).lang = "en_AU"

    def bill(self, period):
        with freeze_time(f"{period.isoformat()} 02:00:00"):
            return self.run_billing(period)

    def bill_before_entries(self, period):
        """Bill ``period``, as if it ran before the records the test creates next (their
        create date is the transaction's, which freeze_time does not move)."""
        run = self.bill(period)
        run.date_started = datetime(2000, 1, 1)
        return run

    def lines_of(self, partner, period):
        return self.invoices_of(partner, period).invoice_line_ids

    def seats(self, **vals):
        return self.env["rebilling.service"].create(
            {
                "partner_id": self.customer_b.id,
                "product_id": self.product_pbx.id,
                "quantity": 1000,
                "price_unit": 9.0,
                "date_start": date(2026, 1, 1),
                **vals,
            }
        )

    def credit_note_of(self, invoice, lines=None):
        """Odoo's Credit Note (account.move.reversal), keeping only ``lines``' reversals."""
        wizard = Form(
            self.env["account.move.reversal"].with_context(
                active_model="account.move", active_ids=invoice.ids
            )
        )
        wizard.reason = "Credit"
        action = wizard.save().refund_moves()
        credit_note = self.env["account.move"].browse(action["res_id"])
        if lines is not None:
            credit_note.invoice_line_ids.filtered(
                lambda ln: ln.rebilling_credited_line_id not in lines
            ).unlink()
        credit_note.action_post()
        return credit_note

    # ------------------------------------------------------------ case 4
    def test_quantity_times_prorated_price_is_rounded_once(self):
        # 1000 x 9.00 x 15/31 days (17 to 31 January) = 4,354.84 (not 1000 x 4.35 = 4,350.00)
        seats = self.seats(date_start=date(2027, 1, 17))
        self.bill(JAN)
        line = self.lines_of(self.customer_b, JAN).filtered(
            lambda ln: ln.rebilling_service_id == seats
        )
        self.assertAlmostEqual(line.price_subtotal, 4354.84)
        self.assertIn("1,000.00 x $\xa09.00", line.name)
        self.assertIn("prorated 15/31 days", line.name)
        # Full months keep quantity x monthly price: 1000 x 9.00.
        self.bill(FEB)
        feb = self.lines_of(self.customer_b, FEB).filtered(
            lambda ln: ln.rebilling_service_id == seats
        )
        self.assertEqual((feb.quantity, feb.price_unit), (1000.0, 9.0))
        # Credit: ends 16/03 after March was billed: 1000 x 9.00 x 15/31 = 4,354.84.
        self.bill(MAR)
        seats.date_end = date(2027, 3, 16)
        self.bill(APR)
        credit = self.lines_of(self.customer_b, APR).filtered(
            lambda ln: ln.rebilling_credited_line_id
        )
        invoice = credit.move_id
        self.assertEqual(invoice.move_type, "out_refund")
        self.assertAlmostEqual(credit.price_subtotal, 4354.84)

    def test_catch_up_of_quantity_is_rounded_once(self):
        self.bill_before_entries(JAN)
        seats = self.seats(date_start=date(2027, 1, 17))
        self.bill(FEB)
        catch_up = self.lines_of(self.customer_b, FEB).filtered(
            lambda ln: ln.rebilling_service_id == seats and "catch-up" in ln.name
        )
        # 1000 x 9.00 x 15/31 = 4,354.84
        self.assertAlmostEqual(catch_up.price_subtotal, 4354.84)

    # ------------------------------------------------------------ cases 3 and 8
    def test_once_off_charge_is_billed_on_the_first_run_on_or_after_its_date(self):
        fee = self.env["rebilling.charge"].create(
            {
                "name": "Site visit",
                "partner_id": self.customer_a.id,
                "product_id": self.product_fee.id,
                "charge_type": "once",
                "date_start": date(2027, 1, 25),
            }
        )
        self.assertIn("first run on or after", fee._fields["date_start"].help)
        self.bill(JAN)
        self.assertFalse(self.lines_of(self.customer_a, JAN).filtered("rebilling_charge_id"))
        self.bill(FEB)
        self.assertEqual(fee.invoice_id, self.invoices_of(self.customer_a, FEB))
        self.bill(MAR)
        self.assertFalse(self.lines_of(self.customer_a, MAR).filtered("rebilling_charge_id"))

    def test_termination_fee_of_an_ended_service_is_billed_once(self):
        self.bill(JAN)
        self.bill(FEB)
        self.service_a.date_end = date(2027, 2, 10)
        fee = self.env["rebilling.charge"].create(
            {
                "name": "Early termination fee",
                "service_id": self.service_a.id,
                "product_id": self.product_fee.id,
                "charge_type": "once",
                "price_unit": 300.0,
                "date_start": date(2027, 2, 10),
            }
        )
        self.bill(MAR)
        march = self.invoices_of(self.customer_a, MAR)
        self.assertEqual(fee.invoice_id, march)
        # 300.00 fee - 99.00 x 18/28 unused days (11 to 28 February) = 300.00 - 63.64 = 236.36
        self.assertEqual(march.move_type, "out_invoice")
        self.assertAlmostEqual(march.amount_untaxed, 236.36)
        self.bill(APR)
        self.assertFalse(self.invoices_of(self.customer_a, APR))

    # ------------------------------------------------------------ case 12
    def test_odoo_credit_note_keeps_what_each_line_bills(self):
        self.bill(JAN)
        invoice = self.invoices_of(self.customer_a, JAN)
        credit_note = self.credit_note_of(invoice)
        line = credit_note.invoice_line_ids
        billed = invoice.invoice_line_ids
        self.assertEqual(line.rebilling_line_kind, "service")
        self.assertEqual(line.rebilling_service_id, self.service_a)
        self.assertEqual(
            (line.rebilling_date_from, line.rebilling_date_to), (JAN, date(2027, 1, 31))
        )
        self.assertEqual(line.rebilling_credited_line_id, billed)
        self.assertEqual(
            credit_note._rebilling_report_summary(), [("Services", 99.0)], "not 'Adjustments'"
        )

    # ------------------------------------------------------------ case 6
    def test_partial_credit_note_then_end_date_credits_days_once(self):
        self.env["rebilling.service"].create(
            {
                "partner_id": self.customer_a.id,
                "product_id": self.product_pbx.id,
                "date_start": date(2026, 1, 1),
            }
        )
        self.bill(JAN)
        invoice = self.invoices_of(self.customer_a, JAN)
        nbn = invoice.invoice_line_ids.filtered(
            lambda ln: ln.rebilling_service_id == self.service_a
        )
        # The NBN line of January credited in full by hand (99.00), the PBX seat kept.
        credit_note = self.credit_note_of(invoice, lines=nbn)
        self.assertAlmostEqual(credit_note.amount_untaxed, 99.0)
        self.service_a.date_end = date(2027, 1, 10)
        self.bill(FEB)
        feb = self.lines_of(self.customer_a, FEB)
        self.assertFalse(
            feb.filtered(lambda ln: ln.rebilling_credited_line_id),
            "the days 11 to 31 January were credited by the credit note",
        )
        # February: the PBX seat only.
        self.assertAlmostEqual(self.invoices_of(self.customer_a, FEB).amount_untaxed, 25.0)

    def test_end_date_moved_earlier_credits_the_other_days(self):
        self.bill(JAN)
        self.service_a.date_end = date(2027, 1, 21)
        self.bill(FEB)
        # 99.00 x 10/31 (22 to 31 January) = 31.94
        first = self.lines_of(self.customer_a, FEB)
        self.assertAlmostEqual(sum(first.mapped("price_subtotal")), 31.94)
        self.service_a.date_end = date(2027, 1, 11)
        self.bill(MAR)
        # 99.00 - 99.00 x 11/31 (1 to 11 January) = 63.87 credited in all: 31.93 more.
        second = self.lines_of(self.customer_a, MAR)
        self.assertAlmostEqual(sum(second.mapped("price_subtotal")), 31.93)
        self.bill(APR)
        self.assertFalse(self.invoices_of(self.customer_a, APR))

    # ------------------------------------------------------------ case 5
    def test_catch_up_on_a_credit_note_is_not_billed_again(self):
        self.bill_before_entries(JAN)
        # Entered after the January run: a PBX seat from 10/01 (catch-up 22/31 days)...
        late = self.env["rebilling.service"].create(
            {
                "partner_id": self.customer_a.id,
                "product_id": self.product_pbx.id,
                "price_unit": 31.0,
                "date_start": date(2027, 1, 10),
                "date_end": date(2027, 1, 31),
            }
        )
        # ... and the NBN ended on 05/01: its credit makes February a credit note.
        self.service_a.date_end = date(2027, 1, 5)
        self.bill(FEB)
        feb = self.invoices_of(self.customer_a, FEB)
        # 31.00 x 22/31 = 22.00 catch-up - 99.00 x 26/31 = 83.03 credit: -61.03
        self.assertEqual(feb.move_type, "out_refund")
        self.assertAlmostEqual(feb.amount_untaxed, 61.03)
        self.assertTrue(feb.invoice_line_ids.filtered(lambda ln: ln.rebilling_service_id == late))
        self.bill(MAR)
        self.assertFalse(self.invoices_of(self.customer_a, MAR), "caught up once")

    def test_lines_of_a_credit_note_keep_their_service(self):
        """The run's own credit note (negative month) lines carry their kind and dates."""
        self.bill(JAN)
        self.service_a.date_end = date(2027, 1, 5)
        self.bill(FEB)
        feb = self.invoices_of(self.customer_a, FEB)
        self.assertEqual(feb.move_type, "out_refund")
        self.assertEqual(feb.invoice_line_ids.rebilling_service_id, self.service_a)
        self.assertEqual(feb.invoice_line_ids.rebilling_line_kind, "service")
        self.assertGreater(feb.invoice_line_ids.price_unit, 0, "a credit in a credit note")

    # ------------------------------------------------------------ case 13
    def test_merging_two_customers_billed_for_the_same_month(self):
        run = self.bill(JAN)
        inv_a = self.invoices_of(self.customer_a, JAN)
        inv_b = self.invoices_of(self.customer_b, JAN)
        total = run.amount_total
        wizard = self.env["base.partner.merge.automatic.wizard"].create(
            {
                "partner_ids": [(6, 0, (self.customer_a | self.customer_b).ids)],
                "dst_partner_id": self.customer_a.id,
                "state": "selection",
            }
        )
        wizard.action_merge()
        self.assertFalse(self.customer_b.exists())
        invoices = self.invoices_of(self.customer_a, JAN)
        self.assertEqual(invoices, inv_a | inv_b, "two distinct documents of one period")
        self.assertEqual(set(invoices.mapped("state")), {"posted"})
        self.assertEqual(len(run.line_ids), 2, "the run's log keeps both")
        self.assertAlmostEqual(run.amount_total, total)
        # The next month bills the merged customer once.
        self.bill(FEB)
        self.assertEqual(len(self.invoices_of(self.customer_a, FEB)), 1)

    # ------------------------------------------------------------ case 7
    def test_catch_up_is_limited_and_the_rest_named_on_the_invoice(self):
        self.assertEqual(self.company.rebilling_catch_up_months, 3, "the default")
        for period in (date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)):
            self.bill(period).date_started = datetime(2000, 1, 1)
        for period in (date(2026, 12, 1), JAN):
            self.bill_before_entries(period)
        # Entered now, its true start date in 2024.
        self.env["rebilling.service"].create(
            {
                "partner_id": self.customer_b.id,
                "product_id": self.product_pbx.id,
                "price_unit": 31.0,
                "date_start": date(2024, 5, 1),
            }
        )
        self.bill(FEB)
        invoice = self.invoices_of(self.customer_b, FEB)
        catch_up = invoice.invoice_line_ids.filtered(lambda ln: "catch-up" in ln.name)
        # Within 3 months before February: November, December, January (31.00 each).
        self.assertEqual(
            sorted(catch_up.mapped("rebilling_date_from")),
            [date(2026, 11, 1), date(2026, 12, 1), JAN],
        )
        self.assertAlmostEqual(sum(catch_up.mapped("price_subtotal")), 93.0)
        # September and October are not billed: 2 x 31.00 named on the invoice.
        self.assertAlmostEqual(invoice.rebilling_catch_up_skipped, 62.0)
        self.assertIn("back_billing", invoice._rebilling_review_flags()[invoice.id])
        # Nothing entered late for customer A: nothing named.
        self.assertFalse(self.invoices_of(self.customer_a, FEB).rebilling_catch_up_skipped)
