"""Review and connectors together: a held invoice leaves for Xero only once approved."""

from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.addons.rebilling_xero_sync.tests.common import NOV, XeroCase
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestReviewHoldsConnectors(XeroCase):
    def setUp(self):
        super().setUp()
        with trap_jobs():
            self.connect()
        review_class = self.env["rebilling.customer.class"].create(
            {"name": "Enterprise", "send_policy": "review", "review_hold_days": 5}
        )
        self.customer_a.rebilling_class_id = review_class

    def test_invoice_under_review_is_pushed_on_approval(self):
        run = self.env["rebilling.billing.run"]._get_or_create(self.company, NOV)
        with trap_jobs() as trap:
            run.with_context(queue_job__no_delay=True).action_start()
            trap.perform_enqueued_jobs()
        held = self.invoices_of(self.customer_a, NOV)
        free = self.invoices_of(self.customer_b, NOV)
        self.assertEqual(held.rebilling_review_state, "under_review")
        pushed = {inv["InvoiceNumber"] for inv in self.xero.invoices()}
        self.assertEqual(pushed, {free.name}, "an invoice under review stays out of Xero")
        with trap_jobs() as trap:
            held.action_rebilling_review_approve()
            trap.perform_enqueued_jobs()
        pushed = {inv["InvoiceNumber"] for inv in self.xero.invoices()}
        self.assertEqual(pushed, {free.name, held.name})
        self.assertEqual(held.rebilling_xero_state, "done")
