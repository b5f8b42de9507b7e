from odoo import api, fields, models


class RebillingConnectwiseProductWizard(models.TransientModel):
    """Create a catalog product in ConnectWise from the service form."""

    _name = "rebilling.connectwise.product.wizard"
    _inherit = "rebilling.psa.wizard.mixin"
    _description = "Create a ConnectWise Catalog Product"
    _psa_backend_type = "connectwise"

    identifier = fields.Char(
        compute="_compute_defaults", store=True, readonly=False, required=True, size=60
    )
    description = fields.Char(
        compute="_compute_defaults", store=True, readonly=False, required=True, size=60
    )
    customer_description = fields.Text(
        compute="_compute_defaults", store=True, readonly=False, required=True
    )
    subcategory_id = fields.Many2one(
        "rebilling.external.record",
        compute="_compute_defaults",
        store=True,
        readonly=False,
        required=True,
        domain="[('backend_id', '=', backend_id), ('kind', '=', 'subcategory')]",
    )
    type_id = fields.Many2one(
        "rebilling.external.record",
        "Product Type",
        compute="_compute_defaults",
        store=True,
        readonly=False,
        required=True,
        domain="[('backend_id', '=', backend_id), ('kind', '=', 'product_type')]",
    )
    price = fields.Float(
        digits="Product Price", compute="_compute_defaults", store=True, readonly=False
    )
    cost = fields.Float(
        digits="Product Price", compute="_compute_defaults", store=True, readonly=False
    )

    @api.depends("service_id", "backend_id")
    def _compute_defaults(self):
        for wizard in self:
            service = wizard.service_id
            product = service.product_id
            backend = wizard.backend_id
            wizard.identifier = (
                wizard.identifier or (product.default_code or product.name or "")[:60]
            )
            wizard.description = wizard.description or (product.name or "")[:60]
            wizard.customer_description = (
                wizard.customer_description or product.description_sale or product.name
            )
            wizard.subcategory_id = wizard.subcategory_id or backend.connectwise_subcategory_id
            wizard.type_id = wizard.type_id or backend.connectwise_type_id
            wizard.price = wizard.price or service.price_unit
            wizard.cost = wizard.cost or product.standard_price

    def action_create(self):
        self.ensure_one()
        backend = self._psa_backend_of_service()
        item = backend._connectwise_create_product(
            {
                "identifier": self.identifier,
                "description": self.description,
                "customerDescription": self.customer_description,
                "subcategory": {"id": self.subcategory_id.external_id},
                "type": {"id": self.type_id.external_id},
                "productClass": "NonInventory",
                "price": self.price,
                "cost": self.cost,
            }
        )
        return self._psa_created(
            backend,
            "product",
            int(item["id"]),
            backend._connectwise_product_values(item),
            "connectwise_product_id",
            "procurement/catalog",
            self.env._("Catalog product %s created.", self.identifier),
        )
