"""Autotask records pulled into Odoo: companies, contracts, products and material codes.

They are ``rebilling.external.record`` (see rebilling_connector) of the Autotask backends.
"""

from odoo import fields, models


class RebillingExternalRecord(models.Model):
    _inherit = "rebilling.external.record"

    kind = fields.Selection(
        selection_add=[("billing_code", "Material Code")], ondelete={"billing_code": "cascade"}
    )
    is_serialized = fields.Boolean("Serialized")
