"""Least privilege: multi-company rules, shared records, wizards and their downloads."""

from datetime import date, timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import Form, HttpCase, new_test_user, tagged

from .common import RebillingCase

NOV = date(2026, 11, 1)


def company_models(env):
    """The rebilling models (transient ones included) with a stored ``company_id``."""
    return [
        name
        for name in sorted(env.registry)
        if name.startswith("rebilling.")
        and not env[name]._abstract
        and "company_id" in env[name]._fields
        and env[name]._fields["company_id"].store
    ]


@tagged("post_install", "-at_install")
class TestCompanyRules(RebillingCase):
    def test_every_model_with_a_company_has_a_company_rule(self):
        models = company_models(self.env)
        self.assertIn("rebilling.service", models)
        self.assertIn("rebilling.export.wizard", models)
        Rule = self.env["ir.rule"].sudo()
        for name in models:
            rules = Rule.search([("model_id.model", "=", name), ("global", "=", True)])
            self.assertTrue(
                any("company_ids" in (rule.domain_force or "") for rule in rules),
                f"{name} has no multi-company record rule",
            )

    def test_records_of_another_company_are_hidden(self):
        """A manager of another company reads none of the main company's records."""
        self.run_billing(NOV)
        self.env["rebilling.export.wizard"].create({"month": NOV})
        other = self.env["res.company"].create({"name": "Other reseller"})
        manager = new_test_user(
            self.env,
            login="other-company-manager",
            groups="rebilling_base.group_rebilling_manager",
            company_id=other.id,
            company_ids=[(6, 0, other.ids)],
        )
        seen = 0
        for name in company_models(self.env):
            Model = self.env[name]
            ids = (
                Model.sudo()
                .with_context(active_test=False)
                .search([("company_id", "=", self.company.id)])
                .ids
            )
            if not ids:
                continue
            seen += 1
            try:
                visible = (
                    Model.with_user(manager)
                    .with_context(active_test=False)
                    .search([("id", "in", ids)])
                )
            except AccessError:
                continue  # no read access at all
            self.assertFalse(visible, f"{name}: records of another company are visible")
            with self.assertRaises(AccessError, msg=name):
                Model.browse(ids[:1]).with_user(manager).read(["company_id"])
        self.assertGreaterEqual(seen, 4, "the fixtures cover several models")

    def test_shared_customer_classes_changed_by_system_admins_only(self):
        Class = self.env["rebilling.customer.class"]
        shared = Class.create({"name": "Shared", "company_id": False})
        own = Class.create({"name": "Own", "company_id": self.company.id})
        manager = new_test_user(
            self.env, login="class-manager", groups="rebilling_base.group_rebilling_manager"
        )
        self.assertEqual(shared.with_user(manager).name, "Shared", "readable")
        with self.assertRaises(AccessError):
            shared.with_user(manager).name = "Mine now"
        with self.assertRaises(AccessError):
            shared.with_user(manager).unlink()
        with self.assertRaises(AccessError):
            Class.with_user(manager).create({"name": "Shared 2", "company_id": False})
        with Form(own.with_user(manager)) as form:
            form.name = "Own, renamed"
        self.assertEqual(own.name, "Own, renamed")
        admin = new_test_user(
            self.env,
            login="class-admin",
            groups="base.group_system,rebilling_base.group_rebilling_manager",
        )
        shared.with_user(admin).name = "Shared, renamed"
        self.assertEqual(shared.name, "Shared, renamed")


@tagged("post_install", "-at_install")
class TestDownloads(RebillingCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.clerk = new_test_user(
            cls.env, login="export-clerk", groups="rebilling_base.group_rebilling_user"
        )
        cls.colleague = new_test_user(
            cls.env, login="export-colleague", groups="rebilling_base.group_rebilling_manager"
        )

    def download(self, login, url):
        self.authenticate(login, login)
        return self.url_open(url, allow_redirects=False)

    def test_export_readable_by_its_creator_only(self):
        self.run_billing(NOV)
        form = Form(self.env["rebilling.export.wizard"].with_user(self.clerk))
        form.month = NOV
        wizard = form.save()
        url = wizard.action_export()["url"]
        with self.assertRaises(AccessError):
            wizard.with_user(self.colleague).read(["month"])
        self.assertFalse(
            self.env["ir.attachment"]
            .with_user(self.colleague)
            .search([("res_model", "=", wizard._name), ("res_id", "=", wizard.id)])
        )
        self.assertNotEqual(self.download("export-colleague", url).status_code, 200)
        answer = self.download("export-clerk", url)
        self.assertEqual(answer.status_code, 200)
        self.assertIn(b"*ContactName", answer.content)

    def test_invoice_zip_readable_by_its_creator_only_and_removed(self):
        self.run_billing(NOV)
        invoices = self.env["account.move"].search([("rebilling_period", "=", NOV)])
        self.assertGreater(len(invoices), 1)
        url = invoices.with_user(self.clerk).action_rebilling_download_pdf()["url"]
        self.assertNotEqual(self.download("export-colleague", url).status_code, 200)
        self.assertEqual(self.download("export-clerk", url).status_code, 200)
        attachment_id = int(url.split("/web/content/")[1].split("?")[0])
        attachment = self.env["ir.attachment"].browse(attachment_id)
        Attachment = self.env["ir.attachment"]
        Attachment._gc_rebilling_downloads()
        self.assertTrue(attachment.exists(), "kept for an hour")
        self.env.cr.execute(
            "UPDATE ir_attachment SET create_date = %s WHERE id = %s",
            [fields.Datetime.now() - timedelta(hours=2), attachment_id],
        )
        Attachment.invalidate_model(["create_date"])
        Attachment._gc_rebilling_downloads()
        self.assertFalse(attachment.exists())
