from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    rebilling_autotask_company_id = fields.Many2one(
        "rebilling.external.record",
        "Autotask Company",
        domain="[('backend_type', '=', 'autotask'), ('kind', '=', 'company')]",
        ondelete="set null",
        copy=False,
        help="The Autotask company (account) of this customer.",
    )
    rebilling_autotask_suggested_id = fields.Many2one(
        "rebilling.external.record",
        "Suggested Autotask Company",
        domain="[('backend_type', '=', 'autotask'), ('kind', '=', 'company')]",
        ondelete="set null",
        copy=False,
        readonly=True,
        help="Found by name when the companies were pulled: confirm it to map the customer.",
    )

    def action_autotask_confirm_company(self):
        """Map each customer to its suggested Autotask company."""
        return self.env["rebilling.backend"]._psa_confirm_companies(self, "autotask")

    def action_autotask_reject_suggestion(self):
        return self.env["rebilling.backend"]._psa_reject_suggestions(self, "autotask")
