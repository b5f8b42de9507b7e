from odoo import api, fields, models


class RebillingCharge(models.Model):
    """A recurring (monthly, in advance) or once-off charge for a customer."""

    _name = "rebilling.charge"
    _description = "Rebilling Charge"
    _inherit = ["mail.thread", "rebilling.company.mixin", "rebilling.billable.mixin"]
    _order = "partner_id, date_start desc, id"
    _check_company_auto = True

    name = fields.Char("Description", required=True, tracking=True)
    charge_type = fields.Selection(
        [("recurring", "Recurring (monthly)"), ("once", "Once-off")],
        "Type",
        required=True,
        default="recurring",
        tracking=True,
    )
    partner_id = fields.Many2one(
        compute="_compute_partner_id", store=True, readonly=False, precompute=True
    )
    service_id = fields.Many2one(
        "rebilling.service",
        index="btree_not_null",
        check_company=True,
        domain="[('partner_id', '=?', partner_id)]",
    )
    date_start = fields.Date(
        "Date",
        help="Recurring: first day billed. Once-off: billed on the first run on or after it.",
    )
    date_end = fields.Date(help="Recurring only: last day billed.")
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

    @api.depends("charge_type", "invoice_line_id.move_id.state")
    def _compute_invoiced(self):
        for charge in self:
            charge.invoiced = (
                charge.charge_type == "once"
                and bool(charge.invoice_line_id)
                and charge.invoice_line_id.move_id.state != "cancel"
            )

    def _rebilling_dated(self):
        """A once-off charge has a date, no period."""
        return self.filtered(lambda charge: charge.charge_type == "recurring")

    @api.constrains("date_start", "date_end", "charge_type")
    def _check_dates(self):
        return super()._check_dates()

    def _rebilling_date_end(self):
        """Last day billed: the charge's end, or its service's end when earlier."""
        self.ensure_one()
        ends = [d for d in (self.date_end, self.service_id.date_end) if d]
        return min(ends) if ends else False

    def _rebilling_line_links(self):
        self.ensure_one()
        return {
            "rebilling_service_id": self.service_id.id,
            "rebilling_charge_id": self.id,
            "rebilling_line_kind": "recurring" if self.charge_type == "recurring" else "once",
        }

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
            *self._rebilling_period_domain(date_from, date_to),
            *self._rebilling_service_follow_domain(date_from),
            "&",
            "&",
            ("charge_type", "=", "once"),
            ("invoiced", "=", False),
            ("date_start", "<=", date_from),
        ]
