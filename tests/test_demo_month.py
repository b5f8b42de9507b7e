"""The demo's month, checked: the numbers `setup/demo.py` prints come from this data."""

from odoo.addons.rebilling_base.models.rebilling_demo import CUSTOMERS, NO_EMAIL
from odoo.addons.rebilling_base.tests.common import run_send_cron
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestDemoMonth(TransactionCase):
    def test_demo_month(self):
        env = self.env(context=dict(self.env.context, tracking_disable=True))
        company = env["rebilling.demo"]._create_demo_data()
        env["rebilling.customer.class"]._rebilling_review_demo()
        env.user.company_id = company
        env = env(context=dict(env.context, allowed_company_ids=company.ids))
        partners = env["res.partner"].search([("company_id", "=", company.id)])
        customers = partners.filtered("rebilling_enabled")
        self.assertEqual(len(customers), len(CUSTOMERS) - 1)
        # Australian addresses matching each town, in the customer's language.
        dubbo = partners.filtered(lambda p: p.name == "Dubbo Vets")
        self.assertEqual((dubbo.city, dubbo.zip, dubbo.state_id.code), ("Dubbo", "2830", "NSW"))
        self.assertEqual(set(customers.mapped("lang")), {"en_AU"})
        # Once-off charges on a few customers only.
        once = env["rebilling.charge"].search(
            [("company_id", "=", company.id), ("charge_type", "=", "once")]
        )
        self.assertLessEqual(len(once.partner_id), len(CUSTOMERS) // 5)

        run = env["rebilling.billing.run"]._get_or_create(
            company, company._rebilling_local_now().date()
        )
        run.with_context(queue_job__no_delay=True).action_start()
        run_send_cron(env)
        summary = env["rebilling.demo"]._demo_summary(run)
        self.assertEqual(summary["invoices"], len(customers))
        self.assertEqual(summary["errors"], 0)
        self.assertEqual(sum(summary["states"].values()), len(customers))
        self.assertEqual(summary["failed"][NO_EMAIL], "no email address")
        held = run.invoice_ids.filtered(lambda m: m.rebilling_review_state == "under_review")
        self.assertEqual(summary["states"]["pending"], len(held), "Pilot invoices wait")
        self.assertEqual(summary["states"]["sent"], len(customers) - len(held) - 1)

        lines = env["rebilling.demo"]._demo_after_run(run)
        self.assertTrue(lines[0].startswith("credited"), lines)
        self.assertEqual(env["rebilling.demo"]._demo_summary(run)["credit_notes"], 1)
        self.assertEqual(len(lines), 2, "the reseller period invoice says what it did")
