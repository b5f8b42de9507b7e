from odoo import api, fields, models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    rebilling_xero_account_id = fields.Many2one(
        "rebilling.xero.account",
        "Xero Account",
        compute="_compute_rebilling_xero_account_id",
        inverse="_inverse_rebilling_xero_account_id",
        domain="[('company_id', '=', company_id or current_company_id)]",
        help="Overrides the company's default Xero account code for this product.",
    )

    @api.depends("rebilling_xero_account_code", "company_id")
    @api.depends_context("company")
    def _compute_rebilling_xero_account_id(self):
        Account = self.env["rebilling.xero.account"]
        for product in self:
            company = product.company_id or self.env.company
            product.rebilling_xero_account_id = Account._rebilling_for_code(
                company, product.rebilling_xero_account_code
            )

    def _inverse_rebilling_xero_account_id(self):
        for product in self:
            product.rebilling_xero_account_code = product.rebilling_xero_account_id.code or False
