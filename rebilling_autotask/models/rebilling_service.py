from odoo import fields, models
from odoo.exceptions import UserError


class RebillingService(models.Model):
    _inherit = "rebilling.service"

    autotask_contract_id = fields.Many2one(
        "rebilling.autotask.record",
        domain="[('kind', '=', 'contract'), ('company_id', '=', company_id)]",
        ondelete="restrict",
        tracking=True,
        help="Invoice items of this service become contract charges of this contract.",
    )
    autotask_product_id = fields.Many2one(
        "rebilling.autotask.record",
        domain="[('kind', '=', 'product'), ('company_id', '=', company_id)]",
        ondelete="restrict",
        tracking=True,
    )
    autotask_billing_code_id = fields.Many2one(
        "rebilling.autotask.record",
        "Autotask Material Code",
        domain="[('kind', '=', 'billing_code'), ('company_id', '=', company_id)]",
        ondelete="restrict",
        tracking=True,
        help="Used when no product is chosen.",
    )

    def _autotask_backend_of(self):
        """The connected Autotask backend of the service's company; UserError if none."""
        self.ensure_one()
        backend = self.env["rebilling.backend"]._autotask_backend(self.company_id)
        if backend.state != "connected":
            raise UserError(self.env._("Connect %s to Autotask first.", self.company_id.name))
        return backend

    def _autotask_wizard(self, model):
        self.ensure_one()
        self._autotask_backend_of()
        return {
            "type": "ir.actions.act_window",
            "res_model": model,
            "view_mode": "form",
            "target": "new",
            "context": {"default_service_id": self.id},
        }

    def action_autotask_create_contract(self):
        """Open the small form creating a contract in Autotask."""
        return self._autotask_wizard("rebilling.autotask.contract.wizard")

    def action_autotask_create_product(self):
        """Open the small form creating a product in Autotask."""
        return self._autotask_wizard("rebilling.autotask.product.wizard")
