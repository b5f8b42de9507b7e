from odoo import models


class RebillingBillingRun(models.Model):
    _inherit = "rebilling.billing.run"

    def _rebilling_after_invoices(self, invoices):
        """Queue the new invoices for Xero once the company is connected."""
        res = super()._rebilling_after_invoices(invoices)
        if self.dry_run:
            return res
        backend = self.env["rebilling.backend"]._xero_backend(self.company_id)
        if backend.state == "connected" and backend.auto_push:
            backend._rebilling_enqueue_push(invoices._rebilling_external_ready())
        return res
