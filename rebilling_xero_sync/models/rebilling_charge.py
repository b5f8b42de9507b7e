from odoo import api, fields, models


class RebillingCharge(models.Model):
    _inherit = "rebilling.charge"

    rebilling_xero_account_code = fields.Char(
        "Xero Account Code",
        tracking=True,
        help="Overrides the product's and the company's Xero account code for this charge.",
    )
    rebilling_xero_account_id = fields.Many2one(
        "rebilling.xero.account",
        "Xero Account",
        compute="_compute_rebilling_xero_account_id",
        inverse="_inverse_rebilling_xero_account_id",
        domain="[('company_id', '=', company_id)]",
    )

    @api.depends("rebilling_xero_account_code", "company_id")
    def _compute_rebilling_xero_account_id(self):
        Account = self.env["rebilling.xero.account"]
        for charge in self:
            charge.rebilling_xero_account_id = Account._rebilling_for_code(
                charge.company_id, charge.rebilling_xero_account_code
            )

    def _inverse_rebilling_xero_account_id(self):
        for charge in self:
            charge.rebilling_xero_account_code = charge.rebilling_xero_account_id.code or False
