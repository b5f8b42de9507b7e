"""The Summary: the month's run at a glance, each count a click to its invoices."""

import json
from datetime import date

from odoo.tests import Form, HttpCase, tagged

from .common import RebillingCase

OCT = date(2026, 10, 1)
NOV = date(2026, 11, 1)


@tagged("post_install", "-at_install")
class TestSummary(RebillingCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.run_billing(cls, NOV)
        cls.month_run = cls.env["rebilling.billing.run"].search([("period_start", "=", NOV)])
        cls.inv_a = cls.invoices_of(cls, cls.customer_a)
        cls.inv_a.action_rebilling_send()  # queued; Bondi Surf's stays pending

    def test_summary_menu_opens_the_months_run_with_its_counts(self):
        action = self.env.ref("rebilling_base.action_open_summary").run()
        self.assertEqual(action["res_model"], "rebilling.billing.run")
        self.assertEqual(action["res_id"], self.month_run.id)
        view = self.env["ir.ui.view"].browse(action["views"][0][0])
        summary = Form(self.month_run, view=view)
        self.assertEqual(summary.send_pending_count, 1)
        self.assertEqual(summary.send_queued_count, 1)
        self.assertEqual(summary.send_sent_count, 0)
        self.assertEqual(len(summary.invoice_ids), 2)
        queued = self.month_run.with_context(rebilling_send_state="queued").action_view_sending()
        self.assertEqual(self.env["account.move"].search(queued["domain"]), self.inv_a)
        graph = self.month_run.action_view_month_totals()
        self.assertIn("graph", graph["view_mode"])
        self.assertEqual(self.month_run.action_rebilling_preview()["type"], "ir.actions.act_url")

    def test_month_graph_draws_this_month_against_the_months_before(self):
        october = self.run_billing(OCT)
        preview = self.env["rebilling.billing.run"].create(
            {"period_start": date(2026, 12, 1), "dry_run": True}
        )
        summary = Form(self.month_run, view="rebilling_base.rebilling_billing_run_view_summary")
        (graph,) = json.loads(summary.month_graph)
        self.assertEqual(
            [(bar["label"], bar["value"], bar["type"]) for bar in graph["values"]],
            [
                ("Oct 2026", october.amount_total, "past"),
                ("Nov 2026", self.month_run.amount_total, "future"),
            ],
            "this month stands out; a preview is never drawn",
        )
        self.assertGreater(self.month_run.amount_total, 0)
        (preview_graph,) = json.loads(preview.month_graph)
        self.assertEqual(len(preview_graph["values"]), 2, "a preview shows the real months")

    def test_service_summary_stays_on_one_line(self):
        names = [f"Service {i}" for i in range(8)]
        self.assertEqual(
            self.env["account.move"]._rebilling_one_line(names), "Service 0, Service 1 and 6 more"
        )
        self.assertEqual(
            self.env["account.move"]._rebilling_one_line(names[:3]), ", ".join(names[:3])
        )

    def test_tour_summary(self):
        self.start_tour(
            "/odoo/action-rebilling_base.action_open_summary",
            "rebilling_summary_tour",
            login="admin",
        )
