from odoo import fields, models
from odoo.exceptions import UserError


class ResPartner(models.Model):
    _inherit = "res.partner"

    rebilling_connectwise_company_id = fields.Many2one(
        "rebilling.connectwise.record",
        "ConnectWise Company",
        domain="[('kind', '=', 'company')]",
        ondelete="set null",
        copy=False,
    )
    rebilling_connectwise_suggested_id = fields.Many2one(
        "rebilling.connectwise.record",
        "Suggested ConnectWise Company",
        domain="[('kind', '=', 'company')]",
        ondelete="set null",
        copy=False,
        readonly=True,
        help="Found by name when the companies were pulled: confirm it to map the customer.",
    )

    def action_connectwise_confirm_company(self):
        """Map each customer to its suggested ConnectWise company."""
        todo = self.filtered("rebilling_connectwise_suggested_id")
        if not todo:
            raise UserError(self.env._("There is no suggestion to confirm."))
        for partner in todo:
            partner.write(
                {
                    "rebilling_connectwise_company_id": (
                        partner.rebilling_connectwise_suggested_id.id
                    ),
                    "rebilling_connectwise_suggested_id": False,
                }
            )
        return True

    def action_connectwise_reject_suggestion(self):
        self.write({"rebilling_connectwise_suggested_id": False})
        return True
