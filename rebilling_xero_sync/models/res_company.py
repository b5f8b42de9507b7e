from odoo import api, fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    rebilling_xero_backend_id = fields.Many2one(
        "rebilling.backend", "Xero Integration", compute="_compute_rebilling_xero"
    )
    rebilling_xero_state = fields.Selection(
        selection=lambda self: self.env["rebilling.backend"]._fields["state"].selection,
        string="Xero Connection",
        compute="_compute_rebilling_xero",
    )
    rebilling_xero_account_id = fields.Many2one(
        "rebilling.xero.account",
        "Default Xero Account",
        compute="_compute_rebilling_xero",
        inverse="_inverse_rebilling_xero_account_id",
        domain="[('company_id', '=', id)]",
        help="Chosen among the revenue accounts pulled from Xero; products and charges "
        "can override it.",
    )
    rebilling_xero_account_warning = fields.Boolean(compute="_compute_rebilling_xero")

    @api.depends("rebilling_xero_account_code")
    def _compute_rebilling_xero(self):
        Backend = self.env["rebilling.backend"]
        Account = self.env["rebilling.xero.account"]
        for company in self:
            backend = Backend._xero_backend(company)
            company.rebilling_xero_backend_id = backend
            company.rebilling_xero_state = backend.state or False
            account = Account._rebilling_for_code(company, company.rebilling_xero_account_code)
            company.rebilling_xero_account_id = account
            company.rebilling_xero_account_warning = backend.state == "connected" and not account

    def _inverse_rebilling_xero_account_id(self):
        for company in self:
            company.rebilling_xero_account_code = company.rebilling_xero_account_id.code or False

    def action_rebilling_xero_open_backend(self):
        self.ensure_one()
        backend = self.rebilling_xero_backend_id
        return {
            "type": "ir.actions.act_window",
            "res_model": "rebilling.backend",
            "view_mode": "form",
            "res_id": backend.id,
            "context": {"default_backend_type": "xero", "default_company_id": self.id},
        }
