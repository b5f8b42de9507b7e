"""Catch-up of services entered late, credits of services ended mid-month, credit notes.

Amounts are computed by hand in the comments (30 days in November, 31 in October).
"""

import ast
import csv
import io
from datetime import date

from freezegun import freeze_time

from odoo.tests import Form, tagged

from .common import RebillingCase

OCT = date(2026, 10, 1)
NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)


@tagged("post_install", "-at_install")
class TestCatchUpAndCredits(RebillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("en_AU")
        (cls.customer_a | cls.customer_b).lang = "en_AU"

    def lines_of(self, partner, period):
        return self.invoices_of(partner, period).invoice_line_ids

    def test_service_and_charge_entered_late_are_billed_for_their_missed_days(self):
        with freeze_time("2026-10-01 02:00:00"):
            self.run_billing(OCT)
        self.assertEqual(self.invoices_of(self.customer_a, OCT).amount_untaxed, 99.0)
        # Entered after the October run, starting in October.
        late = self.env["rebilling.service"].create(
            {
                "partner_id": self.customer_a.id,
                "product_id": self.product_pbx.id,
                "price_unit": 31.0,
                "date_start": date(2026, 10, 10),
            }
        )
        charge = self.env["rebilling.charge"].create(
            {
                "name": "Support retainer",
                "partner_id": self.customer_b.id,
                "product_id": self.product_fee.id,
                "price_unit": 62.0,
                "date_start": date(2026, 10, 17),
            }
        )
        self.run_billing(NOV)
        lines = self.lines_of(self.customer_a, NOV)
        catch_up = lines.filtered(lambda ln: "catch-up" in ln.name)
        self.assertEqual(len(catch_up), 1)
        self.assertEqual(catch_up.rebilling_service_id, late)
        # 31.00 x 22/31 days (10 to 31 October) = 22.00
        self.assertAlmostEqual(catch_up.price_subtotal, 22.0)
        self.assertIn("10/10/2026 - 31/10/2026", catch_up.name)
        # November in full: 99.00 (NBN) + 31.00 (the late service) + 22.00 catch-up.
        self.assertAlmostEqual(self.invoices_of(self.customer_a, NOV).amount_untaxed, 152.0)
        charge_line = self.lines_of(self.customer_b, NOV).filtered(
            lambda ln: ln.rebilling_charge_id == charge and "catch-up" in ln.name
        )
        # 62.00 x 15/31 days (17 to 31 October) = 30.00
        self.assertAlmostEqual(charge_line.price_subtotal, 30.0)
        self.assertIn("17/10/2026 - 31/10/2026", charge_line.name)
        # Caught up once: December bills December only.
        self.run_billing(DEC)
        self.assertFalse(
            self.lines_of(self.customer_a, DEC).filtered(lambda ln: "catch-up" in ln.name)
        )

    def test_service_ended_mid_month_is_credited_and_its_charges_follow_it(self):
        self.env["rebilling.service"].create(
            {
                "partner_id": self.customer_a.id,
                "product_id": self.product_pbx.id,
                "quantity": 2,
                "date_start": date(2026, 1, 1),
            }
        )
        charge = self.env["rebilling.charge"].create(
            {
                "name": "Static IP",
                "service_id": self.service_a.id,
                "product_id": self.product_fee.id,
                "price_unit": 30.0,
                "date_start": date(2026, 1, 1),
            }
        )
        self.service_b.invoice_enabled = False
        charge_of_disabled = self.env["rebilling.charge"].create(
            {
                "name": "Call recording",
                "service_id": self.service_b.id,
                "product_id": self.product_fee.id,
                "price_unit": 15.0,
                "date_start": date(2026, 1, 1),
            }
        )
        self.run_billing(NOV)
        nov = self.invoices_of(self.customer_a, NOV)
        # 99.00 NBN + 2 x 25.00 PBX + 30.00 static IP
        self.assertAlmostEqual(nov.amount_untaxed, 179.0)
        self.assertFalse(
            self.env["account.move.line"].search(
                [("rebilling_charge_id", "=", charge_of_disabled.id)]
            ),
            "a charge of a disabled service is not billed",
        )
        with Form(self.service_a) as form:
            form.date_end = date(2026, 11, 20)
        self.run_billing(DEC)
        dec = self.lines_of(self.customer_a, DEC)
        credits = dec.filtered(lambda ln: ln.price_unit < 0)
        service_credit = credits.filtered(lambda ln: not ln.rebilling_charge_id)
        charge_credit = credits.filtered(lambda ln: ln.rebilling_charge_id == charge)
        # NBN 99.00 x 10/30 unused days (21 to 30 November) = 33.00
        self.assertAlmostEqual(service_credit.price_subtotal, -33.0)
        self.assertIn("21/11/2026 - 30/11/2026", service_credit.name)
        # The charge ends with its service: 30.00 x 10/30 = 10.00
        self.assertAlmostEqual(charge_credit.price_subtotal, -10.0)
        self.assertFalse(dec.filtered(lambda ln: ln.price_unit > 0 and ln.rebilling_charge_id))
        self.assertFalse(
            dec.filtered(lambda ln: ln.product_id == self.product_nbn and ln.price_unit > 0)
        )
        # 2 x 25.00 PBX - 33.00 - 10.00 = 7.00
        self.assertAlmostEqual(self.invoices_of(self.customer_a, DEC).amount_untaxed, 7.0)
        self.run_billing(date(2027, 1, 1))
        jan = self.lines_of(self.customer_a, date(2027, 1, 1))
        self.assertFalse(jan.filtered(lambda ln: ln.price_unit < 0), "credited once")

    def test_whole_invoice_credit_note_stays_in_rebilling(self):
        self.run_billing(NOV)
        invoice = self.invoices_of(self.customer_a, NOV)
        wizard = Form(
            self.env["account.move.reversal"].with_context(
                active_model="account.move", active_ids=invoice.ids
            )
        )
        wizard.reason = "Service never delivered"
        action = wizard.save().refund_moves()
        credit_note = self.env["account.move"].browse(action["res_id"])
        credit_note.action_post()
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.rebilling_period, NOV)
        self.assertAlmostEqual(credit_note.amount_total, 108.9)
        action = self.env.ref("rebilling_base.action_open_invoices").run()
        listed = self.env["account.move"].search(ast.literal_eval(action["domain"]))
        self.assertIn(credit_note, listed, "the credit note is in the rebilling invoice list")
        wizard = self.env["rebilling.export.wizard"].create({"month": NOV})
        rows = list(
            csv.DictReader(io.StringIO(wizard._xero_csv_files(wizard._get_moves())[0].decode()))
        )
        mine = [r for r in rows if r["*InvoiceNumber"] == credit_note.name]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["Total"], "-108.90")
        self.assertEqual(mine[0]["*Quantity"], "-1")
        self.assertEqual(mine[0]["TaxAmount"], "-9.90")
        self.assertIn(invoice.name, mine[0]["Reference"])

    def test_credit_larger_than_the_month_makes_a_credit_note(self):
        self.run_billing(NOV)
        with Form(self.service_a) as form:
            form.date_end = date(2026, 11, 20)
        self.run_billing(DEC)
        credit_note = self.invoices_of(self.customer_a, DEC)
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.state, "posted")
        # 99.00 x 10/30 = 33.00 credited, plus 10% GST = 36.30
        self.assertAlmostEqual(credit_note.amount_untaxed, 33.0)
        self.assertAlmostEqual(credit_note.amount_total, 36.3)
        self.assertIn("21/11/2026 - 30/11/2026", credit_note.invoice_line_ids.name)
        run = self.env["rebilling.billing.run"].search([("period_start", "=", DEC)])
        self.assertFalse(run.error_count)
