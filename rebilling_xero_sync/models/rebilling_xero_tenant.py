from odoo import fields, models


class RebillingXeroTenant(models.Model):
    """A Xero organisation reachable by a backend (from ``/connections``)."""

    _name = "rebilling.xero.tenant"
    _description = "Xero Organisation"
    _inherit = ["rebilling.company.mixin"]
    _order = "backend_id, name"

    backend_id = fields.Many2one("rebilling.backend", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    name = fields.Char(required=True)
    tenant_id = fields.Char("Tenant ID", required=True)
    tenant_type = fields.Char("Type")
    connection_id = fields.Char("Connection ID")
    connected = fields.Boolean(default=True, help="Listed by Xero at the last authentication.")
    used = fields.Boolean(readonly=True, help="Records were pushed to this organisation.")
    short_code = fields.Char(help="Short code of the organisation, for links into Xero.")
    tax_types = fields.Json(help="Tax-rate names and their TaxType codes.")
    active = fields.Boolean(default=True)

    _tenant_uniq = models.Constraint(
        "UNIQUE(backend_id, tenant_id)", "This organisation is already listed for this backend."
    )
