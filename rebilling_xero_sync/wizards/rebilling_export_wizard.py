from odoo import api, models


class RebillingExportWizard(models.TransientModel):
    _inherit = "rebilling.export.wizard"

    @api.model
    def _xero_account_code(self, line):
        """A charge's own Xero account code wins over the product's and the company's."""
        return line.rebilling_charge_id.rebilling_xero_account_code or super()._xero_account_code(
            line
        )
