from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    rebilling_connectwise_company_id = fields.Many2one(
        "rebilling.external.record",
        "ConnectWise Company",
        domain="[('backend_type', '=', 'connectwise'), ('kind', '=', 'company')]",
        ondelete="set null",
        copy=False,
    )
    rebilling_connectwise_suggested_id = fields.Many2one(
        "rebilling.external.record",
        "Suggested ConnectWise Company",
        domain="[('backend_type', '=', 'connectwise'), ('kind', '=', 'company')]",
        ondelete="set null",
        copy=False,
        readonly=True,
        help="Found by name when the companies were pulled: confirm it to map the customer.",
    )

    def action_connectwise_confirm_company(self):
        """Map each customer to its suggested ConnectWise company."""
        return self.env["rebilling.backend"]._psa_confirm_companies(self, "connectwise")

    def action_connectwise_reject_suggestion(self):
        return self.env["rebilling.backend"]._psa_reject_suggestions(self, "connectwise")
