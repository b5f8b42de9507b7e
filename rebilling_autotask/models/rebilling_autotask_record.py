"""Autotask records pulled into Odoo: companies, contracts, products and material codes.

One model for the four kinds keeps the pull and the pickers of the service form
small; ``kind`` tells them apart. Records missing from the last full pull are
archived, never deleted (services may still point at them).
"""

from odoo import fields, models

RECORD_KINDS = [
    ("company", "Company"),
    ("contract", "Contract"),
    ("product", "Product"),
    ("billing_code", "Material Code"),
]


class RebillingAutotaskRecord(models.Model):
    _name = "rebilling.autotask.record"
    _description = "Autotask Record"
    _order = "kind, name, id"

    backend_id = fields.Many2one(
        "rebilling.backend",
        required=True,
        index=True,
        ondelete="cascade",
        domain="[('backend_type', '=', 'autotask')]",
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    kind = fields.Selection(RECORD_KINDS, required=True, index=True)
    external_id = fields.Integer("Autotask ID", required=True, index=True)
    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    reference = fields.Char(help="Company number, contract number or SKU.")
    description = fields.Text()
    parent_id = fields.Many2one(
        "rebilling.autotask.record",
        "Autotask Company",
        index="btree_not_null",
        ondelete="set null",
        help="The company of a contract.",
    )
    date_start = fields.Date("Start Date")
    date_end = fields.Date("End Date")
    unit_cost = fields.Float(digits="Product Price")
    unit_price = fields.Float(digits="Product Price")
    is_serialized = fields.Boolean("Serialized")

    _external_uniq = models.UniqueIndex(
        "(backend_id, kind, external_id)",
        "This Autotask record is already known.",
    )
