"""Billing runs and the PSA connectors: the lines of new invoices are queued."""

from odoo import models


class RebillingBillingRun(models.Model):
    _inherit = "rebilling.billing.run"

    def _rebilling_after_invoices(self, invoices):
        """Queue the PSA lines of the new invoices."""
        res = super()._rebilling_after_invoices(invoices)
        if not self.dry_run:
            invoices._rebilling_psa_push()
        return res
