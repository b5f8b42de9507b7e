"""Calls of numbers no customer has (unprovisioned) raise ``unmatched_cdr`` for the
company's review: on the month's run, with a count that opens the calls, and in the
approvers' message; once the number is provisioned and rated, the flag goes.
"""

from freezegun import freeze_time

from odoo.addons.rebilling_review.tests.common import ReviewCase
from odoo.addons.rebilling_voip.tests.common import HEADER, NOV, VoipCase, csv_line
from odoo.tests import Form, tagged

A = "+61299990001"
UNPROVISIONED = "(02) 5555 0100"


@tagged("post_install", "-at_install")
class TestUnprovisionedCalls(ReviewCase, VoipCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.flag = cls.env.ref("rebilling_review.flag_unmatched_cdr")

    def import_october(self, *extra):
        lines = [
            csv_line("2026-10-05 10:00:00", 60, A, "0412 555 001", "K1"),
            *extra,
        ]
        text = "\n".join([HEADER, *lines]) + "\n"
        self.env["rebilling.cdr.import"]._import_file(self.fmt, text.encode(), "oct.csv")

    def run_november(self):
        with freeze_time("2026-11-01 01:00:00"):
            return self.run_billing(NOV)

    def test_unprovisioned_number_raises_the_flag_for_the_company(self):
        self.import_october(
            csv_line("2026-10-06 10:00:00", 60, UNPROVISIONED, "0412 555 002", "U1"),
            csv_line("2026-10-07 10:00:00", 95, UNPROVISIONED, "(03) 9000 1000", "U2"),
        )
        run = self.run_november()
        inv_a = self.invoices_of(self.customer_a, NOV)
        self.assertNotIn(self.flag, inv_a.rebilling_review_flag_ids, "A's own calls all matched")

        # The approver sees the flag on the month's run (the Summary), and its count.
        form = Form(self.as_approver(run), view="rebilling_base.rebilling_billing_run_view_summary")
        self.assertEqual(form.review_flag_ids[:], self.flag)
        self.assertEqual(form.unmatched_call_count, 2)
        action = self.as_approver(run).action_view_unmatched_calls()
        calls = self.Cdr.search(action["domain"])
        self.assertEqual(sorted(calls.mapped("supplier_call_id")), ["U1", "U2"])
        self.assertFalse(calls.partner_id, "billed to nobody")

        # The approvers' message names it, even beside the invoices under review.
        body = self.messages_of(run)[:1].body
        self.assertIn("waiting for your review", body)
        self.assertIn("to check for the month: Unmatched CDRs", body)

        # Provisioned (the number was B's) and rated again: nothing left to check.
        self.voice_b.identifiers = f"{self.voice_b.identifiers}\n{UNPROVISIONED}"
        self.rate_all(rerate=True)
        run.invalidate_recordset()
        self.assertFalse(self.as_approver(run).review_flag_ids)
        self.assertEqual(self.cdr("U1").partner_id, self.customer_b)

    def test_no_flag_without_unprovisioned_calls(self):
        self.import_october()
        run = self.run_november()
        self.assertFalse(self.as_approver(run).review_flag_ids)
        self.assertNotIn("to check", self.messages_of(run)[:1].body)

    def test_flag_alone_still_reaches_the_approvers(self):
        """No invoice under review (the class sends at once) but unprovisioned calls."""
        self.enterprise.send_policy = "immediately"
        self.import_october(
            csv_line("2026-10-06 10:00:00", 60, UNPROVISIONED, "0412 555 002", "U1"),
        )
        run = self.run_november()
        self.assertEqual(run.review_count, 0)
        message = self.messages_of(run).filtered(lambda m: "to check" in (m.body or ""))
        self.assertTrue(message)
        self.assertIn(self.approver.partner_id, message.partner_ids)
