from odoo import models


class AccountMoveReversal(models.TransientModel):
    _inherit = "account.move.reversal"

    def _prepare_default_reversal(self, move):
        """The reason of a rebilling credit note is printed on its adjustment note."""
        values = super()._prepare_default_reversal(move)
        if move.rebilling_period and self.reason:
            values["rebilling_adjustment_reason"] = self.reason
        return values
