"""Fixtures of the review tests: an "Enterprise" class that reviews its invoices."""

from datetime import date

from odoo.addons.rebilling_base.tests.common import RebillingCase
from odoo.tests import new_test_user

OCT = date(2026, 10, 1)
NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)
APPROVER_GROUP = "rebilling_review.group_rebilling_approver"


class ReviewCase(RebillingCase):
    """Customers A and B in the class "Enterprise": Net 21, reviewed for 5 days."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.rebilling_auto_invoice = True
        cls.approver = new_test_user(
            cls.env,
            login="finance_reviewer",
            name="Fiona Finance",
            groups=APPROVER_GROUP,
            company_id=cls.company.id,
        )
        cls.clerk = new_test_user(
            cls.env,
            login="billing_clerk",
            name="Bob Billing",
            groups="rebilling_base.group_rebilling_user",
            company_id=cls.company.id,
        )
        cls.enterprise = cls.env["rebilling.customer.class"].create(
            {
                "name": "Enterprise",
                "company_id": cls.company.id,
                "send_policy": "review",
                "review_hold_days": 5,
                "payment_term_days": 21,
            }
        )
        (cls.customer_a | cls.customer_b).rebilling_class_id = cls.enterprise

    def as_approver(self, records):
        """``records`` for the approver, with chatter tracking on."""
        return records.with_user(self.approver).with_context(tracking_disable=False)

    def as_clerk(self, records):
        return records.with_user(self.clerk).with_context(tracking_disable=False)

    def run_without_review(self, period):
        """Bill ``period`` as if the class sent immediately (history for the flags).

        Callable from ``setUpClass`` too: ``cls.run_without_review(cls, period)``.
        """
        self.enterprise.send_policy = "immediately"
        run = RebillingCase.run_billing(self, period)
        self.enterprise.send_policy = "review"
        return run

    def messages_of(self, record):
        """The chatter of ``record``, tracking included (tracking is written at commit)."""
        self.env.flush_all()
        self.env.cr.precommit.run()
        return self.env["mail.message"].search(
            [("model", "=", record._name), ("res_id", "=", record.id)], order="id desc"
        )
