"""ConnectWise records pulled into Odoo: companies, agreements and catalog products.

They are ``rebilling.external.record`` (see rebilling_base) of the ConnectWise backends.
"""

from odoo import fields, models


class RebillingExternalRecord(models.Model):
    _inherit = "rebilling.external.record"

    kind = fields.Selection(
        selection_add=[("agreement", "Agreement")], ondelete={"agreement": "cascade"}
    )
    identifier = fields.Char(
        "Identifier", related="reference", readonly=False, help="Company or product identifier."
    )
