"""Issue 26, case 9: late calls on the invoice, and calls too late for any period.

Standard plan of the rebilling_voip tests: national 0.10/min in 60 s blocks,
mobile 0.20/min in 30 s then 1 s blocks. A's voice number is +61 2 9999 0001.
The December run bills November's usage and late calls back to August (three
months before the usage month); earlier calls can no longer be billed.
"""

from datetime import date

from freezegun import freeze_time

from odoo.addons.rebilling_voip.tests.common import DEC, NOV, VoipCase, csv_line
from odoo.tests import Form, tagged

A = "+61299990001"


@tagged("post_install", "-at_install")
class TestLateCalls(VoipCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("en_AU")
        cls.customer_a.lang = "en_AU"

    def usage_lines(self, invoice):
        return invoice.invoice_line_ids.filtered(lambda ln: ln.rebilling_line_kind == "usage")

    def test_late_calls_are_labelled_with_their_own_month(self):
        self.import_csv([csv_line("2026-10-05 10:00:00", 60, A, "(03) 9000 1000", "OCT1")])
        with freeze_time("2026-11-01 02:00:00"):
            self.run_billing(NOV)
        # Arrived after the November run: a September and an October call, and November's.
        self.import_csv(
            [
                csv_line("2026-09-20 10:00:00", 120, A, "(03) 9000 1001", "SEP1"),  # 0.20
                csv_line("2026-10-30 10:00:00", 90, A, "0412 555 001", "OCT2"),  # 0.30
                csv_line("2026-11-03 10:00:00", 61, A, "(03) 9000 1002", "NOV1"),  # 0.20
            ]
        )
        with freeze_time("2026-12-01 02:00:00"):
            run = self.run_billing(DEC)
        lines = self.usage_lines(self.invoices_of(self.customer_a, DEC))
        labels = {line.name.rsplit("(", 1)[1].rstrip(")"): line.price_subtotal for line in lines}
        self.assertEqual(
            labels,
            {
                "01/09/2026 - 30/09/2026": 0.20,
                "01/10/2026 - 31/10/2026": 0.30,
                "01/11/2026 - 30/11/2026": 0.20,
            },
            "each call on a line of its own usage month",
        )
        self.assertEqual(run.late_call_count, 0)

    def test_calls_too_late_for_any_period_are_counted_on_the_run(self):
        with freeze_time("2026-11-01 02:00:00"):
            self.run_billing(NOV)
        # July is before August, the earliest month the December run still bills.
        self.import_csv(
            [
                csv_line("2026-07-15 10:00:00", 60, A, "(03) 9000 1003", "JUL1"),
                csv_line("2026-08-02 10:00:00", 60, A, "(03) 9000 1004", "AUG1"),
            ]
        )
        with freeze_time("2026-12-01 02:00:00"):
            run = self.run_billing(DEC)
        august = self.cdr("AUG1")
        self.assertEqual(august.state, "invoiced", "three months late is still billed")
        self.assertEqual(run.late_call_count, 1)
        action = Form(run).record.action_view_late_calls()
        self.assertEqual(self.Cdr.search(action["domain"]), self.cdr("JUL1"))
        self.assertFalse(self.cdr("JUL1").invoice_id, "not billed: the run says so")
        self.assertEqual(date(2026, 8, 1), run._voip_late_limit())
