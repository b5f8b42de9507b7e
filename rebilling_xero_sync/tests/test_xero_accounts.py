from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.tests import Form, tagged

from .common import OCT, XeroCase


@tagged("post_install", "-at_install")
class TestXeroAccounts(XeroCase):
    def setUp(self):
        super().setUp()
        self.xero.add_account(
            Code="210", Name="Telephony Revenue", Type="REVENUE", TaxType="OUTPUT"
        )
        self.xero.add_account(Code="220", Name="Hardware Revenue", Type="SALES", TaxType="OUTPUT")
        self.xero.add_account(Code="230", Name="Old Revenue", Type="REVENUE", Status="ARCHIVED")
        with trap_jobs():
            self.connect()
        self.Account = self.env["rebilling.xero.account"]

    def account(self, code):
        return self.Account.search([("backend_id", "=", self.backend.id), ("code", "=", code)])

    def test_revenue_accounts_are_the_choices(self):
        self.assertEqual(
            sorted(self.backend.xero_account_ids.mapped("code")), ["200", "210", "220", "260"]
        )

    def test_warning_until_the_default_code_is_chosen(self):
        self.company.rebilling_xero_account_code = False
        self.assertTrue(self.backend.xero_account_warning)
        self.assertTrue(self.company.rebilling_xero_account_warning)
        with Form(self.backend) as form:
            form.xero_default_account_id = self.account("210")
        self.assertEqual(self.company.rebilling_xero_account_code, "210")
        self.assertFalse(self.backend.xero_account_warning)
        self.assertFalse(self.company.rebilling_xero_account_warning)

    def test_company_default_product_and_charge_overrides(self):
        form = Form(self.company, view="rebilling_base.res_company_rebilling_form")
        form.rebilling_xero_account_id = self.account("260")
        form.save()
        self.assertEqual(self.company.rebilling_xero_account_code, "260")
        with Form(self.product_pbx.product_tmpl_id) as form:
            form.rebilling_xero_account_id = self.account("210")
        self.assertEqual(self.product_pbx.rebilling_xero_account_code, "210")
        with Form(self.env["rebilling.charge"]) as form:
            form.partner_id = self.customer_a
            form.name = "Router rental"
            form.product_id = self.product_pbx
            form.charge_type = "recurring"
            form.date_start = OCT
            form.rebilling_xero_account_id = self.account("220")
        recurring = form.save()
        with Form(self.env["rebilling.charge"]) as form:
            form.partner_id = self.customer_a
            form.name = "Installation"
            form.product_id = self.product_fee
            form.charge_type = "once"
            form.date_start = OCT
        self.assertEqual(recurring.rebilling_xero_account_code, "220")
        self.run_billing(OCT)
        move = self.invoices_of(self.customer_a, OCT)
        move.action_rebilling_xero_upload()
        pushed = self.xero.get_invoice(move.name)
        codes = {
            line["Description"].split(" (")[0]: line["AccountCode"] for line in pushed["LineItems"]
        }
        self.assertEqual(
            codes,
            {
                self.service_a.name: "260",  # NBN product: company default
                "Router rental": "220",  # recurring charge override
                "Installation": "260",  # once-off charge on a product without override
            },
        )
        self.assertEqual(
            {line["TaxType"] for line in pushed["LineItems"]}, {"OUTPUT"}, "GST on Income"
        )
