"""ConnectWise records pulled into Odoo: companies, agreements, catalog products and the
catalog's subcategories and product types.

They are ``rebilling.external.record`` (see rebilling_connector) of the ConnectWise backends.
"""

from odoo import fields, models


class RebillingExternalRecord(models.Model):
    _inherit = "rebilling.external.record"

    kind = fields.Selection(
        selection_add=[
            ("agreement", "Agreement"),
            ("subcategory", "Product Subcategory"),
            ("product_type", "Product Type"),
        ],
        ondelete={"agreement": "cascade", "subcategory": "cascade", "product_type": "cascade"},
    )
    identifier = fields.Char(
        "Identifier", related="reference", readonly=False, help="Company or product identifier."
    )
