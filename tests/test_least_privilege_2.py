"""Least privilege across the addons: no write moves a record out of the user's companies."""

from datetime import date, datetime

from odoo import Command
from odoo.addons.rebilling_base.tests.common import RebillingCase
from odoo.addons.rebilling_base.tests.test_security import company_models
from odoo.exceptions import AccessError, UserError
from odoo.models import BaseModel
from odoo.tests import new_test_user, tagged

NOV = date(2026, 11, 1)
# Every role at once, in one company: only the company boundary refuses.
ALL_GROUPS = (
    "base.group_system,rebilling_base.group_rebilling_manager,"
    "rebilling_review.group_rebilling_approver"
)


@tagged("post_install", "-at_install")
class TestCompanyWrites(RebillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.env["res.company"].create({"name": "Other reseller"})
        cls.clerk = new_test_user(
            cls.env,
            login="one-company-admin",
            groups=ALL_GROUPS,
            company_id=cls.company.id,
            company_ids=[(6, 0, cls.company.ids)],
        )

    def make(self, company):
        """One record of every rebilling model with a company, in ``company`` (sudo; the
        wizards as the user: they are their creator's only)."""
        env = self.env
        c = {"company_id": company.id}
        backend = env["rebilling.backend"].create({"name": "Xero", "backend_type": "xero", **c})
        run = env["rebilling.billing.run"].create({"period_start": NOV, **c})
        fmt = env["rebilling.cdr.format"].create({"name": "CSV", **c})
        cdr_import = env["rebilling.cdr.import"].create(
            {"name": "nov.csv", "format_id": fmt.id, **c}
        )
        group = env["rebilling.destination.group"].create({"name": "Local", **c})
        plan = env["rebilling.rate.plan"].create({"name": "Standard", **c})
        backend_vals = {"backend_id": backend.id}
        records = {
            "rebilling.backend": backend,
            "rebilling.billing.run": run,
            "rebilling.billing.run.line": env["rebilling.billing.run.line"].create(
                {"run_id": run.id, "partner_id": self.customer_a.id, **c}
            ),
            "rebilling.binding": env["rebilling.binding"].create(
                {"res_model": "res.partner", "res_id": self.customer_a.id, **backend_vals}
            ),
            "rebilling.cdr": env["rebilling.cdr"].create(
                {
                    "start_time": datetime(2026, 11, 3, 9),
                    "duration": 60,
                    "called": "0290001111",
                    "called_e164": "+61290001111",
                    **c,
                }
            ),
            "rebilling.cdr.error": env["rebilling.cdr.error"].create(
                {"import_id": cdr_import.id, **c}
            ),
            "rebilling.cdr.format": fmt,
            "rebilling.cdr.import": cdr_import,
            "rebilling.charge": env["rebilling.charge"].create(
                {
                    "name": "Fee",
                    "partner_id": self.customer_a.id,
                    "product_id": self.product_fee.id,
                    **c,
                }
            ),
            "rebilling.customer.class": env["rebilling.customer.class"].create(
                {"name": f"Class {company.id}", **c}
            ),
            "rebilling.destination.group": group,
            "rebilling.destination.prefix": env["rebilling.destination.prefix"].create(
                {"group_id": group.id, "prefix": f"+99{company.id}"}
            ),
            "rebilling.external.record": env["rebilling.external.record"].create(
                {"kind": "company", "external_id": 7, "name": "Harbour", **backend_vals}
            ),
            "rebilling.rate": env["rebilling.rate"].create(
                {"plan_id": plan.id, "destination_group_id": group.id}
            ),
            "rebilling.rate.plan": plan,
            "rebilling.local.zone": env["rebilling.local.zone"].create(
                {"name": f"Zone {company.id}", "prefixes": f"+6129{company.id}", **c}
            ),
            "rebilling.service": env["rebilling.service"].create(
                {
                    "partner_id": self.customer_a.id,
                    "product_id": self.product_nbn.id,
                    "date_start": NOV,
                    **c,
                }
            ),
            "rebilling.reconcile.line": env["rebilling.reconcile.line"].create(
                {"run_id": run.id, "kind": "missing", "reference": "INV/1", **backend_vals}
            ),
            "rebilling.sync.log": env["rebilling.sync.log"].create(
                {"direction": "push", "state": "done", **backend_vals}
            ),
            "rebilling.xero.account": env["rebilling.xero.account"].create(
                {"code": "200", "name": "Sales", **backend_vals}
            ),
            "rebilling.xero.tenant": env["rebilling.xero.tenant"].create(
                {"name": "Org", "tenant_id": f"t-{company.id}", **backend_vals}
            ),
        }
        c_ids = company.ids
        if company == self.company:
            wizards = env(user=self.clerk, context={**env.context, "allowed_company_ids": c_ids})
            records |= {
                "rebilling.cdr.rate.wizard": wizards["rebilling.cdr.rate.wizard"].create(c),
                "rebilling.export.wizard": wizards["rebilling.export.wizard"].create(c),
                "rebilling.reseller.invoice.wizard": wizards[
                    "rebilling.reseller.invoice.wizard"
                ].create({"partner_id": self.customer_a.id, **c}),
                "rebilling.run.wizard": wizards["rebilling.run.wizard"].create(c),
                "rebilling.month.end": wizards["rebilling.month.end"].create(c),
            }
        return records

    def test_no_write_moves_a_record_to_another_company(self):
        """As a user of one company with every group: writing ``company_id`` (or the record
        the company comes from) to another company is refused on every model."""
        own = self.make(self.company)
        theirs = self.make(self.other)
        self.assertEqual(set(own), set(company_models(self.env)), "a record of every model")
        writable = 0
        for name, record in own.items():
            mine = record.with_user(self.clerk)
            writable += mine.has_access("write")
            field = record._fields["company_id"]
            attempts = [{"company_id": self.other.id}]
            if field.related:
                parent = field.related.split(".")[0]
                attempts.append({parent: theirs[record._fields[parent].comodel_name].id})
            for vals in attempts:
                with self.assertRaises(UserError, msg=f"{name}: {vals}"):
                    mine.write(vals)
                record.invalidate_recordset()
                self.assertEqual(record.sudo().company_id, self.company, f"{name}: {vals}")
        self.assertGreaterEqual(writable, 15, "most models are writable by this user")

    def test_writes_within_the_company_still_work(self):
        own = self.make(self.company)
        charge = own["rebilling.charge"].with_user(self.clerk)
        charge.write({"name": "Fee, renamed", "company_id": self.company.id})
        self.assertEqual(charge.name, "Fee, renamed")
        second = self.env["res.company"].create({"name": "Second company"})
        self.clerk.company_ids |= second
        charge.with_context(allowed_company_ids=self.company.ids).company_id = second
        self.assertEqual(charge.sudo().company_id, second, "a company of the user")


# Public methods that only return an action to open (no side effect): any reader may call them.
NAVIGATION = {
    "res.company": {
        "action_rebilling_check_confirmed",
        "action_rebilling_configuration",
        "action_rebilling_open",
        "action_rebilling_open_email_summary",
        "action_rebilling_open_summary",
        "action_rebilling_xero_open_backend",
    },
    "res.partner": {
        "action_rebilling_calls",
        "action_rebilling_invoices",
        "action_rebilling_reseller_invoice",
        "action_rebilling_search_invoices",
        "action_rebilling_services",
    },
    "account.move": {
        "action_rebilling_open",
        "action_rebilling_previous_invoices",
        "action_rebilling_view_calls",
        "action_rebilling_xero_online_invoice",
        "action_rebilling_xero_open",
    },
}


# Odoo's own buttons that the addons only restrict further (Odoo's access rules apply).
CORE = {"action_register_payment", "button_cancel", "button_draft"}


def public_methods(env, model):
    """The public methods the rebilling addons add to ``model`` (callable over JSON-RPC)."""
    cls = type(env[model])
    return sorted(
        {
            name
            for klass in cls.__mro__
            if klass.__module__.startswith("odoo.addons.rebilling_")
            for name, value in vars(klass).items()
            if not name.startswith("_") and callable(value) and not hasattr(BaseModel, name)
        }
    )


@tagged("post_install", "-at_install")
class TestPublicMethodsOfSharedModels(RebillingCase):
    """Portal customers and internal users without a rebilling group read their company,
    their partner and (portal) their sent invoices: every other public rebilling method
    on those records is refused before it does anything."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        run = cls.env["rebilling.billing.run"]._get_or_create(cls.company, NOV)
        run.with_context(queue_job__no_delay=True).action_start()
        cls.invoice = cls.invoices_of(cls, cls.customer_a, NOV)
        cls.invoice.is_move_sent = True
        cls.portal = cls.env["res.users"].create(
            {
                "name": "Harbour Portal",
                "login": "walk-portal",
                "partner_id": cls.customer_a.id,
                "group_ids": [Command.set([cls.env.ref("base.group_portal").id])],
            }
        )
        cls.internal = new_test_user(cls.env, login="walk-internal", groups="base.group_user")

    def test_every_public_method_refused_to_portal_and_plain_users(self):
        targets = {
            "res.company": self.company,
            "res.partner": self.customer_a,
            "account.move": self.invoice,
        }
        walked = 0
        for user in (self.portal, self.internal):
            for model, record in targets.items():
                for name in public_methods(self.env, model):
                    if name in NAVIGATION[model] or name in CORE:
                        continue
                    walked += 1
                    method = getattr(record.with_user(user), name)
                    args = (
                        ("rebilling_base.action_rebilling_summary",)
                        if name.endswith("_open")
                        else ()
                    )
                    with self.subTest(user=user.login, method=f"{model}.{name}"):
                        with self.assertRaises(AccessError):
                            method(*args)
        self.assertGreater(walked, 30)
