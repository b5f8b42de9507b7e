from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _get_move_constraints(self, move):
        """Invoices under review or waiting for reissue are not sent, by any path."""
        constraints = super()._get_move_constraints(move)
        if move.rebilling_review_state in ("under_review", "rejected"):
            constraints["rebilling_under_review"] = self.env._(
                "%s is under review: approve it and it is sent to the customer.",
                move.display_name,
            )
        return constraints
