from odoo import api, fields, models
from odoo.exceptions import ValidationError


class RebillingCharge(models.Model):
    """A recurring (monthly, in advance) or once-off charge for a customer."""

    _name = "rebilling.charge"
    _description = "Rebilling Charge"
    _inherit = ["mail.thread"]
    _order = "partner_id, date_start desc, id"
    _check_company_auto = True

    name = fields.Char("Description", required=True, tracking=True)
    active = fields.Boolean(default=True)
    charge_type = fields.Selection(
        [("recurring", "Recurring (monthly)"), ("once", "Once-off")],
        "Type",
        required=True,
        default="recurring",
        tracking=True,
    )
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
        compute="_compute_partner_id",
        store=True,
        readonly=False,
        precompute=True,
    )
    service_id = fields.Many2one(
        "rebilling.service",
        index="btree_not_null",
        check_company=True,
        domain="[('partner_id', '=?', partner_id)]",
    )
    product_id = fields.Many2one(
        "product.product", required=True, check_company=True, tracking=True
    )
    quantity = fields.Float(default=1.0, digits="Product Unit", tracking=True)
    price_unit = fields.Float(
        "Unit Price",
        digits="Product Price",
        compute="_compute_price_unit",
        store=True,
        readonly=False,
        precompute=True,
        tracking=True,
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date_start = fields.Date(
        "Date",
        required=True,
        default=fields.Date.context_today,
        help="Recurring: first day billed. Once-off: billed on the first run on or after it.",
    )
    date_end = fields.Date("End Date", help="Recurring only: last day billed.")
    invoice_line_id = fields.Many2one(
        "account.move.line", copy=False, readonly=True, index="btree_not_null"
    )
    invoice_id = fields.Many2one(related="invoice_line_id.move_id", string="Invoice")
    invoiced = fields.Boolean(compute="_compute_invoiced", store=True)

    _quantity_positive = models.Constraint(
        "CHECK (quantity >= 0)", "The quantity of a charge cannot be negative."
    )

    @api.depends("service_id")
    def _compute_partner_id(self):
        for charge in self:
            if charge.service_id:
                charge.partner_id = charge.service_id.partner_id

    @api.depends("product_id")
    def _compute_price_unit(self):
        for charge in self:
            charge.price_unit = charge.product_id.lst_price

    @api.depends("charge_type", "invoice_line_id.move_id.state")
    def _compute_invoiced(self):
        for charge in self:
            charge.invoiced = (
                charge.charge_type == "once"
                and bool(charge.invoice_line_id)
                and charge.invoice_line_id.move_id.state != "cancel"
            )

    @api.constrains("date_start", "date_end", "charge_type")
    def _check_dates(self):
        for charge in self:
            if (
                charge.charge_type == "recurring"
                and charge.date_end
                and charge.date_end < charge.date_start
            ):
                raise ValidationError(
                    self.env._("The end date of %s is before its start date.", charge.name)
                )

    def _rebilling_date_end(self):
        """Last day billed: the charge's end, or its service's end when earlier."""
        self.ensure_one()
        ends = [d for d in (self.date_end, self.service_id.date_end) if d]
        return min(ends) if ends else False

    @api.model
    def _rebilling_service_follow_domain(self, date_from):
        """Charges follow their service: none of a disabled, archived or ended service."""
        return [
            "|",
            ("service_id", "=", False),
            "&",
            ("service_id.invoice_enabled", "=", True),
            "|",
            ("service_id.date_end", "=", False),
            ("service_id.date_end", ">=", date_from),
        ]

    @api.model
    def _billable_domain(self, partners, date_from, date_to):
        """Charges billed by the run for [date_from, date_to] (date_from: its invoice date).

        Recurring charges follow their service. A once-off charge is billed once, on
        the first run on or after its date (``date_start <= date_from``), whatever its
        service's state: a termination fee of an ended service is billed too.
        """
        return [
            ("partner_id", "in", partners.ids),
            "|",
            "&",
            "&",
            "&",
            ("charge_type", "=", "recurring"),
            ("date_start", "<=", date_to),
            "|",
            ("date_end", "=", False),
            ("date_end", ">=", date_from),
            *self._rebilling_service_follow_domain(date_from),
            "&",
            "&",
            ("charge_type", "=", "once"),
            ("invoiced", "=", False),
            ("date_start", "<=", date_from),
        ]
