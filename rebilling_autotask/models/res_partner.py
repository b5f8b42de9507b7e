from odoo import fields, models
from odoo.exceptions import UserError


class ResPartner(models.Model):
    _inherit = "res.partner"

    rebilling_autotask_company_id = fields.Many2one(
        "rebilling.autotask.record",
        "Autotask Company",
        domain="[('kind', '=', 'company')]",
        ondelete="set null",
        copy=False,
        help="The Autotask company (account) of this customer.",
    )
    rebilling_autotask_suggested_id = fields.Many2one(
        "rebilling.autotask.record",
        "Suggested Autotask Company",
        domain="[('kind', '=', 'company')]",
        ondelete="set null",
        copy=False,
        readonly=True,
        help="Found by name when the companies were pulled: confirm it to map the customer.",
    )

    def action_autotask_confirm_company(self):
        """Map each customer to its suggested Autotask company."""
        todo = self.filtered("rebilling_autotask_suggested_id")
        if not todo:
            raise UserError(self.env._("There is no suggestion to confirm."))
        for partner in todo:
            partner.write(
                {
                    "rebilling_autotask_company_id": partner.rebilling_autotask_suggested_id.id,
                    "rebilling_autotask_suggested_id": False,
                }
            )
        return True

    def action_autotask_reject_suggestion(self):
        self.write({"rebilling_autotask_suggested_id": False})
        return True
