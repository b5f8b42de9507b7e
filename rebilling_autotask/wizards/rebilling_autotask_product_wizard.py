from odoo import api, fields, models


class RebillingAutotaskProductWizard(models.TransientModel):
    """Create a product in Autotask from the service form."""

    _name = "rebilling.autotask.product.wizard"
    _inherit = "rebilling.psa.wizard.mixin"
    _description = "Create an Autotask Product"
    _psa_backend_type = "autotask"

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
        "rebilling.external.record",
        "Product Allocation Code",
        required=True,
        domain="[('kind', '=', 'billing_code'), ('backend_id', '=', backend_id)]",
    )
    active = fields.Boolean(default=True)
    is_serialized = fields.Boolean("Serialized")

    @api.depends("service_id")
    def _compute_defaults(self):
        for wizard in self:
            product = wizard.service_id.product_id
            wizard.name = wizard.name or product.name
            wizard.description = wizard.description or product.description_sale or product.name
            wizard.unit_cost = wizard.unit_cost or product.standard_price
            wizard.unit_price = wizard.unit_price or wizard.service_id.price_unit

    def _autotask_marker(self):
        """``rebilling:<database>:service:<id>``, at most 50 characters."""
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return f"rebilling:{uuid[:13]}:service:{self.service_id.id}"[:50]

    def action_create(self):
        self.ensure_one()
        backend = self._psa_backend_of_service()
        values = {
            "name": self.name,
            "description": self.description or "",
            "unitCost": self.unit_cost,
            "unitPrice": self.unit_price,
            "isActive": self.active,
            "isSerialized": self.is_serialized,
            "productBillingCodeID": self.billing_code_id.external_id,
            # The marker of this service: what an earlier click created is found by it.
            "externalProductID": self._autotask_marker(),
        }
        external_id = backend._autotask_create(
            "Products",
            values,
            filters=[
                {"op": "eq", "field": "externalProductID", "value": values["externalProductID"]}
            ],
        )
        return self._psa_created(
            backend,
            "product",
            external_id,
            {
                "name": self.name,
                "description": self.description,
                "unit_cost": self.unit_cost,
                "unit_price": self.unit_price,
                "is_serialized": self.is_serialized,
                "active": self.active,
            },
            "autotask_product_id",
            "Products",
            self.env._("Product %s created.", self.name),
        )
