"""The demo's month, checked: the numbers `setup/demo.py` prints come from this data."""

from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.addons.rebilling_base.demo.rebilling_demo import (
    CUSTOMERS,
    LATE_SERVICE_CUSTOMER,
    NO_EMAIL,
    PORTAL_CUSTOMER,
    PORTAL_LOGIN,
)
from odoo.addons.rebilling_base.tests.common import run_send_cron
from odoo.tests import TransactionCase, freeze_time, tagged
from odoo.tools import SQL

# The demo is built around today (last month's calls and run, this month's run): the test
# holds the clock on one day, 14:00 in Sydney, whatever day it runs.
DEMO_DAY = "2026-11-20 03:00:00"


@tagged("post_install", "-at_install")
class TestDemoMonth(TransactionCase):
    def entered_now(self, company):
        """The demo's services and charges entered at the (frozen) current time.

        The records of this transaction carry PostgreSQL's clock, which no freezing
        moves, as their create_date; catch-ups compare it with the start of each run.
        """
        self.env.flush_all()
        for table in ("rebilling_service", "rebilling_charge"):
            self.env.cr.execute(
                SQL(
                    "UPDATE %s SET create_date = %s WHERE company_id = %s",
                    SQL.identifier(table),
                    fields.Datetime.now(),
                    company.id,
                )
            )
        self.env.invalidate_all()

    @freeze_time(DEMO_DAY)
    def test_demo_month(self):
        env = self.env(context=dict(self.env.context, tracking_disable=True))
        company = env["rebilling.demo"]._create_demo_data()
        env["rebilling.customer.class"]._rebilling_review_demo()
        self.entered_now(company)
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

        # Last month, then a service entered late, then this month (as setup/demo.py).
        this_month = company._rebilling_local_now().date().replace(day=1)
        Run = env["rebilling.billing.run"].with_context(queue_job__no_delay=True)
        last_run = Run._get_or_create(company, this_month - relativedelta(months=1))
        last_run.action_start()
        run_send_cron(env)
        line = env["rebilling.demo"]._demo_late_service(company)
        self.assertIn(LATE_SERVICE_CUSTOMER, line)
        late = env["rebilling.service"].search(
            [("company_id", "=", company.id)], order="id desc", limit=1
        )
        # One transaction here: its records share the transaction's create_date, which
        # precedes the run; the demo enters the service after the run, in its own.
        env.cr.execute(
            "UPDATE rebilling_service SET create_date = %s WHERE id = %s",
            [last_run.date_started + relativedelta(minutes=5), late.id],
        )
        late.invalidate_recordset(["create_date"])
        run = Run._get_or_create(company, this_month)
        run.action_start()
        run_send_cron(env)
        summary = env["rebilling.demo"]._demo_summary(run)
        self.assertEqual(run.previous_amount_total, last_run.amount_total)
        catch_up = run.invoice_ids.invoice_line_ids.filtered(
            lambda ln: ln.rebilling_service_id == late and ln.rebilling_date_to < this_month
        )
        self.assertEqual(len(catch_up), 1, "the missed days of last month, once")
        self.assertEqual(catch_up.rebilling_date_from, late.date_start)
        self.assertEqual(summary["catch_up"], 1)
        self.assertEqual(summary["invoices"], len(customers))
        self.assertEqual(summary["errors"], 0)
        self.assertEqual(sum(summary["states"].values()), len(customers))
        self.assertEqual(summary["failed"][NO_EMAIL], "no email address")
        held = run.invoice_ids.filtered(lambda m: m.rebilling_review_state == "under_review")
        self.assertEqual(summary["states"]["pending"], len(held), "Pilot invoices wait")
        self.assertEqual(summary["states"]["sent"], len(customers) - len(held) - 1)

        # The portal user of Harbour Dental Group reads its sent invoices, nobody else's.
        portal = env["res.users"].search([("login", "=", PORTAL_LOGIN)])
        self.assertEqual(portal.lang, "en_AU", "the portal in Australian English")
        harbour = run.invoice_ids.filtered(lambda m: m.partner_id.name == PORTAL_CUSTOMER)
        self.assertEqual(harbour.rebilling_send_state, "sent")
        visible = env["account.move"].with_user(portal).search([("rebilling_run_id", "=", run.id)])
        self.assertEqual(visible, harbour)

        lines = env["rebilling.demo"]._demo_after_run(run)
        self.assertTrue(lines[0].startswith("credited"), lines)
        self.assertEqual(env["rebilling.demo"]._demo_summary(run)["credit_notes"], 1)
        self.assertEqual(len(lines), 2, "the reseller period invoice says what it did")
