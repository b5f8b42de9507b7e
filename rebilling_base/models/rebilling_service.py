from odoo import api, fields, models

from .product_template import SERVICE_TYPES


class RebillingService(models.Model):
    """A service a reseller bills to its customer every month, in advance."""

    _name = "rebilling.service"
    _description = "Rebilling Service"
    _inherit = [
        "mail.thread",
        "mail.activity.mixin",
        "rebilling.company.mixin",
        "rebilling.billable.mixin",
    ]
    _order = "partner_id, sequence, id"
    _check_company_auto = True

    name = fields.Char(
        "Description",
        compute="_compute_name",
        store=True,
        readonly=False,
        precompute=True,
        required=True,
        tracking=True,
    )
    sequence = fields.Integer(default=10)
    partner_id = fields.Many2one(domain="[('rebilling_enabled', '=', True)]")
    service_type = fields.Selection(
        SERVICE_TYPES,
        "Type",
        required=True,
        compute="_compute_service_type",
        store=True,
        readonly=False,
        precompute=True,
        tracking=True,
    )
    identifiers = fields.Text(
        help="Phone numbers or trunk ids of this service, one per line. "
        "Usage records are matched to the service by these."
    )
    price_unit = fields.Float("Monthly Price")
    date_end = fields.Date(tracking=True)
    invoice_enabled = fields.Boolean("Enabled for Invoicing", default=True, tracking=True)
    charge_ids = fields.One2many("rebilling.charge", "service_id", "Charges")

    _quantity_positive = models.Constraint(
        "CHECK (quantity >= 0)", "The quantity of a service cannot be negative."
    )

    @api.depends("product_id")
    def _compute_name(self):
        for service in self:
            if not service.name and service.product_id:
                service.name = service.product_id.name

    @api.depends("product_id")
    def _compute_service_type(self):
        for service in self:
            if service.product_id.rebilling_service_type:
                service.service_type = service.product_id.rebilling_service_type
            elif not service.service_type:
                service.service_type = "other"

    def _identifier_list(self):
        """The identifiers of the service, one item per line or comma."""
        self.ensure_one()
        raw = (self.identifiers or "").replace(",", "\n")
        return [i.strip() for i in raw.splitlines() if i.strip()]

    @api.model
    def _billable_domain(self, partners, date_from, date_to):
        """Services enabled for invoicing."""
        return [
            *super()._billable_domain(partners, date_from, date_to),
            ("invoice_enabled", "=", True),
        ]

    def _rebilling_line_links(self):
        self.ensure_one()
        return {"rebilling_service_id": self.id, "rebilling_line_kind": "service"}
