"""Least privilege, round 2: a company's calls are rated with its own plans only."""

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from .common import VoipCase, csv_line


@tagged("post_install", "-at_install")
class TestPlansOfTheCompany(VoipCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.env["res.company"].create({"name": "Other reseller"})
        # Company B's plan: national calls at 9.99 a minute.
        cls.plan_b = cls.env["rebilling.rate.plan"].create(
            {
                "name": "B premium",
                "company_id": cls.other.id,
                "rate_ids": [
                    Command.create(
                        {"destination_group_id": cls.g_national.id, "rate_per_minute": 9.99}
                    )
                ],
            }
        )
        cls.clerk = new_test_user(
            cls.env,
            login="plan-clerk",
            groups="rebilling_base.group_rebilling_manager",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )

    def test_customer_plan_of_another_company_refused(self):
        partner = self.customer_a.with_user(self.clerk)
        with self.assertRaises(UserError):
            partner.rebilling_rate_plan_id = self.plan_b
        self.assertFalse(self.customer_a.rebilling_rate_plan_id)

    def test_default_plan_and_voice_product_of_another_company_refused(self):
        with self.assertRaises(UserError):
            self.company.rebilling_rate_plan_id = self.plan_b
        product_b = self.env["product.product"].create(
            {"name": "B voice", "type": "service", "company_id": self.other.id}
        )
        with self.assertRaises(UserError):
            self.company.rebilling_voice_product_id = product_b
        journal_b = self.env["account.journal"].search(
            [("company_id", "=", self.other.id)], limit=1
        ) or self.env["account.journal"].create(
            {"name": "B sales", "code": "BSAL", "type": "sale", "company_id": self.other.id}
        )
        with self.assertRaises(UserError):
            self.company.rebilling_journal_id = journal_b

    def test_rating_ignores_a_plan_of_another_company(self):
        """Even stored (older data, a direct SQL write), B's plan never prices A's calls:
        A's default plan does."""
        self.env.cr.execute(
            """UPDATE res_partner SET rebilling_rate_plan_id = jsonb_build_object(%s, %s)
               WHERE id = %s""",
            [str(self.company.id), self.plan_b.id, self.customer_a.id],
        )
        self.env.invalidate_all()
        self.assertEqual(
            self.customer_a.with_company(self.company).rebilling_rate_plan_id, self.plan_b
        )
        imp = self.import_csv(
            [csv_line("2026-10-05 10:00:00", 60, "+61299990001", "(03) 9000 1234", "X1")]
        )
        self.assertEqual(imp.imported_count, 1)
        self.rate_all()
        call = self.cdr("X1")
        self.assertEqual(call.state, "rated", call.rating_note)
        self.assertAlmostEqual(call.price, 0.10, places=4, msg="A's default plan, not B's 9.99")
        self.assertEqual(call.rate_id.plan_id, self.plan)
