from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _get_invoice_extra_attachments(self, move):
        """The itemized call list (XLSX) goes with the invoice PDF."""
        attachments = super()._get_invoice_extra_attachments(move)
        if attachments and move.rebilling_call_list_id:
            attachments |= move.rebilling_call_list_id
        return attachments
