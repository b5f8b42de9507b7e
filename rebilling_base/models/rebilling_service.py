from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .product_template import SERVICE_TYPES


class RebillingService(models.Model):
    """A service a reseller bills to its customer every month, in advance."""

    _name = "rebilling.service"
    _description = "Rebilling Service"
    _inherit = ["mail.thread", "mail.activity.mixin", "rebilling.company.mixin"]
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
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    partner_id = fields.Many2one(
        "res.partner",
        "Customer",
        required=True,
        index=True,
        tracking=True,
        check_company=True,
        domain="[('rebilling_enabled', '=', True)]",
    )
    product_id = fields.Many2one(
        "product.product", required=True, tracking=True, check_company=True
    )
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
    quantity = fields.Float(default=1.0, digits="Product Unit", tracking=True)
    price_unit = fields.Float(
        "Monthly Price",
        digits="Product Price",
        compute="_compute_price_unit",
        store=True,
        readonly=False,
        precompute=True,
        tracking=True,
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date_start = fields.Date("Start Date", required=True, default=fields.Date.context_today)
    date_end = fields.Date("End Date", tracking=True)
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

    @api.depends("product_id")
    def _compute_price_unit(self):
        for service in self:
            service.price_unit = service.product_id.lst_price

    @api.constrains("date_start", "date_end")
    def _check_dates(self):
        for service in self:
            if service.date_end and service.date_end < service.date_start:
                raise ValidationError(
                    self.env._("The end date of %s is before its start date.", service.display_name)
                )

    def _identifier_list(self):
        """The identifiers of the service, one item per line or comma."""
        self.ensure_one()
        raw = (self.identifiers or "").replace(",", "\n")
        return [i.strip() for i in raw.splitlines() if i.strip()]

    @api.model
    def _billable_domain(self, partners, date_from, date_to):
        return [
            ("partner_id", "in", partners.ids),
            ("invoice_enabled", "=", True),
            ("date_start", "<=", date_to),
            "|",
            ("date_end", "=", False),
            ("date_end", ">=", date_from),
        ]
