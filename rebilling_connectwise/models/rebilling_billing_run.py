from odoo import models


class RebillingBillingRun(models.Model):
    _inherit = "rebilling.billing.run"

    def _rebilling_after_invoices(self, invoices):
        """Queue the lines of the new invoices for ConnectWise."""
        res = super()._rebilling_after_invoices(invoices)
        if not self.dry_run:
            invoices._rebilling_connectwise_push()
        return res
