"""ConnectWise records pulled into Odoo: companies, agreements and catalog products.

One model for the three kinds (``kind``); records missing from the last full
pull are archived, never deleted.
"""

from odoo import fields, models

RECORD_KINDS = [
    ("company", "Company"),
    ("agreement", "Agreement"),
    ("product", "Catalog Product"),
]


class RebillingConnectwiseRecord(models.Model):
    _name = "rebilling.connectwise.record"
    _description = "ConnectWise Record"
    _order = "kind, name, id"

    backend_id = fields.Many2one(
        "rebilling.backend",
        required=True,
        index=True,
        ondelete="cascade",
        domain="[('backend_type', '=', 'connectwise')]",
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    kind = fields.Selection(RECORD_KINDS, required=True, index=True)
    external_id = fields.Integer("ConnectWise ID", required=True, index=True)
    name = fields.Char(required=True)
    identifier = fields.Char(help="Company or product identifier.")
    active = fields.Boolean(default=True)
    description = fields.Text()
    parent_id = fields.Many2one(
        "rebilling.connectwise.record",
        "ConnectWise Company",
        index="btree_not_null",
        ondelete="set null",
        help="The company of an agreement.",
    )
    date_start = fields.Date("Start Date")
    date_end = fields.Date("End Date")
    price = fields.Float(digits="Product Price")
    cost = fields.Float(digits="Product Price")

    _external_uniq = models.UniqueIndex(
        "(backend_id, kind, external_id)",
        "This ConnectWise record is already known.",
    )
