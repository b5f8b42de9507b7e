from odoo import api, fields, models


class RebillingAutotaskProductWizard(models.TransientModel):
    """Create a product in Autotask from the service form."""

    _name = "rebilling.autotask.product.wizard"
    _description = "Create an Autotask Product"

    service_id = fields.Many2one("rebilling.service", required=True, ondelete="cascade")
    backend_id = fields.Many2one(
        "rebilling.backend", compute="_compute_backend_id", store=True, readonly=True
    )
    name = fields.Char(
        "Product Name", compute="_compute_defaults", store=True, readonly=False, required=True
    )
    description = fields.Text(compute="_compute_defaults", store=True, readonly=False)
    unit_cost = fields.Float(
        digits="Product Price", compute="_compute_defaults", store=True, readonly=False
    )
    unit_price = fields.Float(
        digits="Product Price", compute="_compute_defaults", store=True, readonly=False
    )
    billing_code_id = fields.Many2one(
        "rebilling.autotask.record",
        "Product Allocation Code",
        domain="[('kind', '=', 'billing_code'), ('backend_id', '=', backend_id)]",
    )
    active = fields.Boolean(default=True)
    is_serialized = fields.Boolean("Serialized")

    @api.depends("service_id")
    def _compute_backend_id(self):
        for wizard in self:
            wizard.backend_id = self.env["rebilling.backend"]._autotask_backend(
                wizard.service_id.company_id
            )

    @api.depends("service_id")
    def _compute_defaults(self):
        for wizard in self:
            product = wizard.service_id.product_id
            wizard.name = wizard.name or product.name
            wizard.description = wizard.description or product.description_sale or product.name
            wizard.unit_cost = wizard.unit_cost or product.standard_price
            wizard.unit_price = wizard.unit_price or wizard.service_id.price_unit

    def action_create(self):
        self.ensure_one()
        backend = self.service_id._autotask_backend_of()
        values = {
            "name": self.name,
            "description": self.description or "",
            "unitCost": self.unit_cost,
            "unitPrice": self.unit_price,
            "isActive": self.active,
            "isSerialized": self.is_serialized,
        }
        if self.billing_code_id:
            values["productBillingCodeID"] = self.billing_code_id.external_id
        external_id = backend._autotask_create("Products", values)
        product = self.env["rebilling.autotask.record"].create(
            {
                "backend_id": backend.id,
                "kind": "product",
                "external_id": external_id,
                "name": self.name,
                "description": self.description,
                "unit_cost": self.unit_cost,
                "unit_price": self.unit_price,
                "is_serialized": self.is_serialized,
                "active": self.active,
            }
        )
        self.service_id.autotask_product_id = product
        backend._rebilling_log(
            "push",
            "Products",
            "done",
            self.service_id,
            external_id=str(external_id),
            message=self.env._("Product %s created.", self.name),
        )
        return {"type": "ir.actions.act_window_close"}
