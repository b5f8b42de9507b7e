"""Services and the PSA connectors: the connected PSA of the service's company and the
small forms creating a contract (or agreement) in that PSA from the service."""

from odoo import models
from odoo.exceptions import UserError


class RebillingService(models.Model):
    _inherit = "rebilling.service"

    def _rebilling_psa_backend_of(self, backend_type):
        """The connected PSA backend of the service's company; UserError if none."""
        self.ensure_one()
        backend = self.env["rebilling.backend"]._psa_backend(self.company_id, backend_type)
        if backend.state != "connected":
            raise UserError(
                self.env._(
                    "Connect %(company)s to %(system)s first.",
                    company=self.company_id.name,
                    system=backend._psa_of_type(backend_type)._psa_label(),
                )
            )
        return backend

    def _rebilling_psa_wizard(self, backend_type, model):
        """The action opening the small creation form ``model`` of the service."""
        self.ensure_one()
        self._rebilling_psa_backend_of(backend_type)
        return {
            "type": "ir.actions.act_window",
            "res_model": model,
            "view_mode": "form",
            "target": "new",
            "context": {"default_service_id": self.id},
        }
