from odoo import fields, models
from odoo.exceptions import UserError


class RebillingService(models.Model):
    _inherit = "rebilling.service"

    connectwise_agreement_id = fields.Many2one(
        "rebilling.connectwise.record",
        "ConnectWise Agreement",
        domain="[('kind', '=', 'agreement'), ('company_id', '=', company_id)]",
        ondelete="restrict",
        tracking=True,
        help="Invoice lines of this service become additions of this agreement.",
    )
    connectwise_product_id = fields.Many2one(
        "rebilling.connectwise.record",
        "ConnectWise Product",
        domain="[('kind', '=', 'product'), ('company_id', '=', company_id)]",
        ondelete="restrict",
        tracking=True,
    )

    def _connectwise_backend_of(self):
        """The connected ConnectWise backend of the service's company; UserError if none."""
        self.ensure_one()
        backend = self.env["rebilling.backend"]._connectwise_backend(self.company_id)
        if backend.state != "connected":
            raise UserError(self.env._("Connect %s to ConnectWise first.", self.company_id.name))
        return backend

    def action_connectwise_create_product(self):
        """Open the small form creating a catalog product in ConnectWise."""
        self.ensure_one()
        self._connectwise_backend_of()
        return {
            "type": "ir.actions.act_window",
            "res_model": "rebilling.connectwise.product.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_service_id": self.id},
        }
