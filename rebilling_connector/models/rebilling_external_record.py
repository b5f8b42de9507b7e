"""Records of an external system pulled into Odoo (companies, contracts, products...).

One generic model for every PSA connector (Autotask, ConnectWise): ``kind``
tells the records of a backend apart and the connector modules add their own
kinds with ``selection_add``. A pull creates or updates the records it lists
and archives the ones missing from it: they are never deleted, services may
still point at them. Fields a system has no use for stay empty; ``data``
keeps whatever else a connector wants to remember.
"""

from odoo import fields, models


def psa_record_field(backend_type, kind, string, default_compute=None, **kwargs):
    """A Many2one to the pulled ``kind`` records of the PSA ``backend_type`` (same company),
    as the PSA fields of services and charges (contract, product...) are.

    ``default_compute``: the method that sets a default (e.g. the charge's service's
    choice); the field stays editable and stored, its own choice wins.
    """
    if default_compute:
        kwargs.update(compute=default_compute, store=True, readonly=False, precompute=True)
    return fields.Many2one(
        "rebilling.external.record",
        string,
        domain=f"[('backend_type', '=', '{backend_type}'), ('kind', '=', '{kind}'), "
        "('company_id', '=', company_id)]",
        ondelete="restrict",
        tracking=True,
        check_company=True,
        **kwargs,
    )


RECORD_KINDS = [
    ("company", "Company"),
    ("contract", "Contract"),
    ("product", "Product"),
]


class RebillingExternalRecord(models.Model):
    _name = "rebilling.external.record"
    _description = "External System Record"
    _inherit = ["rebilling.company.mixin"]
    _order = "backend_type, kind, name, id"

    backend_id = fields.Many2one("rebilling.backend", required=True, index=True, ondelete="cascade")
    backend_type = fields.Selection(related="backend_id.backend_type", store=True, index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    kind = fields.Selection(RECORD_KINDS, required=True, index=True)
    external_id = fields.Integer("External ID", required=True, index=True)
    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    reference = fields.Char(help="Number, identifier or SKU of the record in the external system.")
    description = fields.Text()
    parent_id = fields.Many2one(
        "rebilling.external.record",
        "Parent Company",
        index="btree_not_null",
        ondelete="set null",
        help="The company of a contract or an agreement.",
    )
    date_start = fields.Date("Start Date")
    date_end = fields.Date("End Date")
    unit_cost = fields.Float(digits="Product Price")
    unit_price = fields.Float(digits="Product Price")
    data = fields.Json(help="Other values of the external record kept by the connector.")

    _external_uniq = models.UniqueIndex(
        "(backend_id, kind, external_id)",
        "This external record is already known.",
    )
