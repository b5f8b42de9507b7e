from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _hook_if_errors(self, moves_data, allow_raising=True):
        """Keep the reason of a failed send on rebilling invoices (shown in the summary)."""
        for move, move_data in moves_data.items():
            if move.rebilling_period and move_data.get("error"):
                move.rebilling_send_error = self._format_error_text(move_data["error"])[:500]
        return super()._hook_if_errors(moves_data, allow_raising=allow_raising)
