from odoo import api, fields, models


class RebillingConnectwiseProductWizard(models.TransientModel):
    """Create a catalog product in ConnectWise from the service form."""

    _name = "rebilling.connectwise.product.wizard"
    _description = "Create a ConnectWise Catalog Product"

    service_id = fields.Many2one("rebilling.service", required=True, ondelete="cascade")
    backend_id = fields.Many2one(
        "rebilling.backend", compute="_compute_defaults", store=True, readonly=True
    )
    identifier = fields.Char(
        compute="_compute_defaults", store=True, readonly=False, required=True, size=60
    )
    description = fields.Char(
        compute="_compute_defaults", store=True, readonly=False, required=True, size=60
    )
    customer_description = fields.Text(
        compute="_compute_defaults", store=True, readonly=False, required=True
    )
    subcategory_ref = fields.Integer(
        "Subcategory ID", compute="_compute_defaults", store=True, readonly=False, required=True
    )
    type_ref = fields.Integer(
        "Type ID", compute="_compute_defaults", store=True, readonly=False, required=True
    )
    price = fields.Float(
        digits="Product Price", compute="_compute_defaults", store=True, readonly=False
    )
    cost = fields.Float(
        digits="Product Price", compute="_compute_defaults", store=True, readonly=False
    )

    @api.depends("service_id")
    def _compute_defaults(self):
        for wizard in self:
            service = wizard.service_id
            product = service.product_id
            backend = self.env["rebilling.backend"]._connectwise_backend(service.company_id)
            wizard.backend_id = backend
            wizard.identifier = (
                wizard.identifier or (product.default_code or product.name or "")[:60]
            )
            wizard.description = wizard.description or (product.name or "")[:60]
            wizard.customer_description = (
                wizard.customer_description or product.description_sale or product.name
            )
            wizard.subcategory_ref = wizard.subcategory_ref or backend.connectwise_subcategory_ref
            wizard.type_ref = wizard.type_ref or backend.connectwise_type_ref
            wizard.price = wizard.price or service.price_unit
            wizard.cost = wizard.cost or product.standard_price

    def action_create(self):
        self.ensure_one()
        backend = self.service_id._connectwise_backend_of()
        item = backend._connectwise_create_product(
            {
                "identifier": self.identifier,
                "description": self.description,
                "customerDescription": self.customer_description,
                "subcategory": {"id": self.subcategory_ref},
                "type": {"id": self.type_ref},
                "productClass": "NonInventory",
                "price": self.price,
                "cost": self.cost,
            }
        )
        product = self.env["rebilling.connectwise.record"].create(
            dict(
                backend._connectwise_product_values(item),
                backend_id=backend.id,
                kind="product",
                external_id=int(item["id"]),
            )
        )
        self.service_id.connectwise_product_id = product
        backend._rebilling_log(
            "push",
            "procurement/catalog",
            "done",
            self.service_id,
            external_id=str(item["id"]),
            message=self.env._("Catalog product %s created.", self.identifier),
        )
        return {"type": "ir.actions.act_window_close"}
