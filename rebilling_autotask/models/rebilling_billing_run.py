from odoo import models


class RebillingBillingRun(models.Model):
    _inherit = "rebilling.billing.run"

    def _rebilling_after_invoices(self, invoices):
        """Queue the VoIP utility items of the new invoices for Autotask."""
        res = super()._rebilling_after_invoices(invoices)
        if not self.dry_run:
            invoices._rebilling_autotask_push()
        return res
