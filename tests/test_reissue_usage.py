"""Reissue and adjust of invoices under review that bill voice usage.

Customer A (voice service +61 2 9999 0001 and an NBN service at 99.00) and B
(PBX 4 x 25.00 and voice service (03) 9999 0002) are in a class reviewed for 5
days. Rates of the Standard plan (rebilling_voip tests): mobile 0.20/min in
30 s then 1 s blocks; national 0.10/min in 60 s blocks. Sums below by hand.
"""

from datetime import datetime

from freezegun import freeze_time

from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.addons.rebilling_review.tests.common import ReviewCase
from odoo.addons.rebilling_voip.tests.common import DEC, HEADER, NOV, VoipCase, csv_line
from odoo.tests import Form, tagged

A = "+61299990001"
B = "(03) 9999 0002"
# Imported after the November run: October calls that arrived late, and one of November.
LATE_A = [
    csv_line("2026-10-30 11:00:00", 125, A, "(03) 9000 1009", "L1"),  # national 3 min: 0.30
    csv_line("2026-10-31 22:00:00", 90, A, "0412 555 009", "L2"),  # mobile 90 s: 0.30
    csv_line("2026-11-02 10:00:00", 60, A, "0412 555 200", "NOV1"),  # December's: 0.20
]
LATE_B = [csv_line("2026-10-31 08:00:00", 45, B, "0412 555 101", "B2")]  # mobile 45 s: 0.15


@tagged("post_install", "-at_install")
class TestReissueUsage(ReviewCase, VoipCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        lines = [
            # A in October: 5 mobile calls (61..65 s: 1.05), 3 national (125 s: 3 x 0.30).
            *(
                csv_line(f"2026-10-0{i + 1} 10:00:00", 61 + i, A, f"0412 555 00{i}", f"M{i}")
                for i in range(5)
            ),
            *(
                csv_line(f"2026-10-1{i} 11:00:00", 125, A, f"(03) 9000 100{i}", f"N{i}")
                for i in range(3)
            ),
            # B in October: one mobile call of 30 s (0.10).
            csv_line("2026-10-15 09:00:00", 30, B, "0412 555 100", "B1"),
        ]
        text = "\n".join([HEADER, *lines]) + "\n"
        cls.env["rebilling.cdr.import"]._import_file(cls.fmt, text.encode(), "oct.csv")
        with freeze_time("2026-11-01 01:00:00"):
            cls.billing_run = cls.run_billing(cls, NOV)
        cls.inv_a = cls.invoices_of(cls, cls.customer_a, NOV)
        cls.inv_b = cls.invoices_of(cls, cls.customer_b, NOV)

    # ------------------------------------------------------------ helpers
    def reissue(self, invoices, when="now"):
        wizard = Form(
            self.env["rebilling.review.reissue.wizard"]
            .with_user(self.approver)
            .with_context(default_move_ids=[(6, 0, invoices.ids)])
        )
        wizard.when = when
        return wizard.save().action_reissue()

    def adjust(self, invoice, **values):
        wizard = Form(
            self.env["rebilling.review.adjust.wizard"]
            .with_user(self.approver)
            .with_context(default_move_id=invoice.id)
        )
        for field, value in values.items():
            setattr(wizard, field, value)
        return wizard.save().action_adjust()

    def usage(self, invoice):
        """``{destination group: (calls, amount)}`` of the usage lines."""
        return {
            line.rebilling_destination_group_id: (
                line.rebilling_call_count,
                round(line.price_subtotal, 2),
            )
            for line in invoice.invoice_line_ids
            if line.rebilling_line_kind == "usage"
        }

    def october_calls(self, caller):
        return self.Cdr.search(
            [
                ("caller_e164", "=", caller),
                ("start_time", ">=", datetime(2026, 10, 1)),
                ("start_time", "<", datetime(2026, 11, 1)),
            ]
        )

    def assert_a_reissued(self, extra=0.0):
        """A's November invoice bills all its October calls, the late ones included."""
        self.assertEqual(
            self.usage(self.inv_a),
            {self.g_national: (4, 1.20), self.g_mobile: (6, 1.35)},
            "national 4 x 0.30; mobile 1.05 + 0.30",
        )
        self.assertAlmostEqual(self.inv_a.amount_untaxed, 99.0 + 1.20 + 1.35 + extra)
        calls = self.october_calls(A)
        self.assertEqual(len(calls), 10)
        self.assertEqual(calls.invoice_id, self.inv_a, "every October call on this invoice")
        self.assertEqual(set(calls.mapped("state")), {"invoiced"})
        self.assertEqual(self.inv_a.rebilling_call_count, 10)
        self.assertEqual(self.inv_a.rebilling_call_list_id.res_id, self.inv_a.id)

    # ------------------------------------------------------------ tests
    def test_invoice_before_the_late_calls(self):
        self.assertEqual(
            self.usage(self.inv_a), {self.g_national: (3, 0.90), self.g_mobile: (5, 1.05)}
        )
        self.assertAlmostEqual(self.inv_a.amount_untaxed, 99.0 + 0.90 + 1.05)
        self.assertEqual(self.inv_a.rebilling_call_count, 8)
        self.assertEqual(self.inv_a.rebilling_review_state, "under_review")

    def test_reissue_now_with_late_calls_bills_every_call_once(self):
        name, invoice_date = self.inv_a.name, self.inv_a.invoice_date
        imp = self.import_csv(LATE_A)
        self.assertEqual(imp.imported_count, 3)
        self.reissue(self.inv_a, "now")
        self.assertEqual(self.inv_a.rebilling_review_state, "under_review")
        self.assertEqual((self.inv_a.name, self.inv_a.invoice_date), (name, invoice_date))
        self.assert_a_reissued()
        self.assertEqual(self.cdr("NOV1").invoice_id.id, False, "November's call waits")
        # Reissuing again changes nothing: the calls are the invoice's own.
        self.reissue(self.inv_a, "now")
        self.assert_a_reissued()
        # December's run bills none of October's calls, only November's.
        self.run_billing(DEC)
        inv_dec = self.invoices_of(self.customer_a, DEC)
        self.assertEqual(self.usage(inv_dec), {self.g_mobile: (1, 0.20)})
        self.assertEqual(self.cdr("NOV1").invoice_id, inv_dec)
        self.assertEqual(self.october_calls(A).invoice_id, self.inv_a)

    def test_adjust_then_reissue_keeps_the_adjustment_and_bills_the_calls(self):
        self.adjust(self.inv_a, name="Promotional credit", amount=10.0)
        self.assertAlmostEqual(self.inv_a.amount_untaxed, 99.0 + 1.95 - 10.0)
        self.assertEqual(self.inv_a.rebilling_call_count, 8, "an adjust keeps the calls")
        self.import_csv(LATE_A)
        self.reissue(self.inv_a, "now")
        self.assert_a_reissued(extra=-10.0)
        manual = self.inv_a.invoice_line_ids.filtered(lambda ln: ln.rebilling_line_kind == "manual")
        self.assertEqual(manual.price_unit, -10.0)

    def test_hold_for_review_restarts_after_adjust_and_reissue(self):
        self.assertEqual(self.inv_a.rebilling_review_deadline, datetime(2026, 11, 6, 1, 0))
        with freeze_time("2026-11-04 09:00:00"):
            self.adjust(self.inv_a, name="Promotional credit", amount=10.0)
        self.assertEqual(self.inv_a.rebilling_review_deadline, datetime(2026, 11, 9, 9, 0))
        with freeze_time("2026-11-05 10:00:00"):
            self.reissue(self.inv_a, "now")
        self.assertEqual(self.inv_a.rebilling_review_deadline, datetime(2026, 11, 10, 10, 0))
        with freeze_time("2026-11-06 02:00:00"):
            self.env["account.move"]._cron_rebilling_review_auto_approve()
        self.assertEqual(self.inv_a.rebilling_review_state, "under_review", "not seen yet")
        self.assertEqual(self.inv_b.rebilling_review_state, "approved", "its hold ended")

    def test_off_peak_reissue_of_several_invoices_in_one_job(self):
        self.company.rebilling_reissue_hour = 2
        self.import_csv(LATE_A + LATE_B)
        invoices = self.inv_a | self.inv_b
        with freeze_time("2026-11-02 05:00:00"):
            self.reissue(invoices, "off_peak")
        self.assertEqual(set(invoices.mapped("rebilling_review_state")), {"rejected"})
        self.assertEqual(self.inv_a.rebilling_call_count, 8, "nothing recalculated yet")
        Move = self.env["account.move"]
        with freeze_time("2026-11-03 02:05:00"), trap_jobs() as trap:
            Move._cron_rebilling_review_reissue()
            batch = invoices.sorted("id")
            trap.assert_jobs_count(1)
            trap.assert_enqueued_job(
                batch._rebilling_review_reissue_job,
                properties={"identity_key": f"rebilling_reissue:{self.company.id}:{batch[0].id}:2"},
            )
            self.assertEqual(trap.enqueued_jobs[0].channel, "root.rebilling.review")
            trap.perform_enqueued_jobs()
        self.assertEqual(set(invoices.mapped("rebilling_review_state")), {"under_review"})
        self.assertEqual(self.inv_a.rebilling_review_deadline, datetime(2026, 11, 8, 2, 5))
        self.assert_a_reissued()
        self.assertEqual(self.usage(self.inv_b), {self.g_mobile: (2, 0.25)}, "0.10 + 0.15")
        self.assertAlmostEqual(self.inv_b.amount_untaxed, 100.0 + 0.25)
        self.assertEqual(self.october_calls("+61399990002").invoice_id, self.inv_b)

    def test_failed_off_peak_reissue_leaves_the_invoice_whole_and_rejected(self):
        self.company.rebilling_reissue_hour = 2
        self.import_csv(LATE_A + LATE_B)
        # B has nothing to bill any more: its PBX ended in October, its calls are not billed.
        self.service_b.date_end = datetime(2026, 10, 31).date()
        self.voice_b.invoice_enabled = False
        total_b = self.inv_b.amount_total
        invoices = self.inv_a | self.inv_b
        with freeze_time("2026-11-02 05:00:00"):
            self.reissue(invoices, "off_peak")
        with freeze_time("2026-11-03 02:05:00"), trap_jobs() as trap:
            self.env["account.move"]._cron_rebilling_review_reissue()
            trap.perform_enqueued_jobs()
        self.assert_a_reissued()
        self.assertEqual(self.inv_a.rebilling_review_state, "under_review")
        self.assertEqual(self.inv_b.rebilling_review_state, "rejected")
        self.assertEqual(self.inv_b.state, "posted")
        self.assertEqual(self.inv_b.amount_total, total_b, "not half-reissued")
        self.assertIn("nothing to bill", self.inv_b.rebilling_reissue_error)
        self.assertEqual(self.inv_b.rebilling_reissue_at, datetime(2026, 11, 4, 2, 0))
        self.assertEqual(self.cdr("B1").invoice_id, self.inv_b, "its call stays on it")
