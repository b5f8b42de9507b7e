"""The required configuration fields are listed once: the gate and its dependencies read it."""

from odoo.tests import Form, tagged

from .common import RebillingCase

CONFIG_VIEW = "rebilling_base.res_company_rebilling_form"


@tagged("post_install", "-at_install")
class TestRequiredConfigurationFields(RebillingCase):
    def extended_company(self):
        """The company as an addon that extends ``_rebilling_required_fields`` sees it.

        Odoo builds a model's class from the classes of every addon that
        ``_inherit`` it; a subclass of the registry's class with one more
        override is that build with one more addon.
        """

        class RequiresNotificationEmail(type(self.company)):
            def _rebilling_required_fields(self):
                return [*super()._rebilling_required_fields(), "rebilling_notification_email"]

        company = self.company
        return RequiresNotificationEmail(company.env, company._ids, company._prefetch_ids)

    def test_the_gate_depends_on_the_one_list(self):
        company = self.company
        for fname in ("rebilling_configured", "rebilling_config_missing"):
            field = company._fields[fname]
            self.assertEqual(
                sorted(self.registry.field_depends[field]),
                sorted(company._rebilling_required_fields()),
            )
        # The gate is recomputed when any of them changes, through the user's form.
        self.assertTrue(company.rebilling_configured)
        with Form(company, view=CONFIG_VIEW) as form:
            form.rebilling_bank_account_number = False
        self.assertFalse(company.rebilling_configured)
        self.assertEqual(company.rebilling_config_missing, "Bank Account Number")

    def test_an_extension_of_the_list_is_seen_by_the_gate(self):
        self.company.rebilling_notification_email = False
        extended = self.extended_company()
        field = extended._fields["rebilling_configured"]
        depends, _context = field.get_depends(extended)
        self.assertIn("rebilling_notification_email", depends)
        self.assertEqual(sorted(depends), sorted(extended._rebilling_required_fields()))

        self.env.invalidate_all()
        self.assertFalse(extended.rebilling_configured)
        self.assertEqual(extended.rebilling_config_missing, "Notification Email")
        self.company.rebilling_notification_email = "finance@example.com"
        self.env.invalidate_all()
        self.assertTrue(extended.rebilling_configured)
        self.env.invalidate_all()
        self.assertTrue(self.company.rebilling_configured)
