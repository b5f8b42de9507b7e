from odoo import api, fields, models


class RebillingXeroAccount(models.Model):
    """A revenue account of the Xero chart of accounts (pulled, read-only)."""

    _name = "rebilling.xero.account"
    _description = "Xero Account"
    _inherit = ["rebilling.company.mixin"]
    _order = "code"
    _rec_names_search = ["code", "name"]

    backend_id = fields.Many2one("rebilling.backend", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    account_id = fields.Char("Xero AccountID")
    code = fields.Char(required=True, index=True)
    name = fields.Char(required=True)
    account_type = fields.Char("Type")
    tax_type = fields.Char("Default Tax Type")
    active = fields.Boolean(default=True)

    _account_uniq = models.Constraint(
        "UNIQUE(backend_id, account_id)", "This Xero account is already listed."
    )

    @api.depends("code", "name")
    def _compute_display_name(self):
        for account in self:
            account.display_name = f"{account.code} {account.name}"

    @api.model
    def _rebilling_for_code(self, company, code):
        """The account of ``company``'s Xero backend with ``code`` (empty when none)."""
        if not code or not company:
            return self.browse()
        return self.search([("company_id", "=", company.id), ("code", "=", code)], limit=1)
