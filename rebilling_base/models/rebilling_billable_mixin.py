"""What services and charges share: a customer's product billed between two dates.

``rebilling.service`` and ``rebilling.charge`` inherit it (as OCA contract's lines
share ``abstract_contract_line``): the company, product, quantity and price (the
product's sales price by default), the dates, the rule of the dates, the days a
run bills and the links of the invoice lines that bill them::

    class RebillingCharge(models.Model):
        _name = "rebilling.charge"
        _inherit = ["mail.thread", "rebilling.company.mixin", "rebilling.billable.mixin"]

A model keeps its own labels and help by declaring a field again with them only
(Odoo merges the attributes of both declarations).
"""

from odoo import api, fields, models
from odoo.exceptions import ValidationError


class RebillingBillableMixin(models.AbstractModel):
    _name = "rebilling.billable.mixin"
    _description = "Rebilling Billable Item"

    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    partner_id = fields.Many2one(
        "res.partner", "Customer", required=True, index=True, tracking=True, check_company=True
    )
    product_id = fields.Many2one(
        "product.product", required=True, tracking=True, check_company=True
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
    date_start = fields.Date("Start Date", required=True, default=fields.Date.context_today)
    date_end = fields.Date("End Date")

    @api.depends("product_id")
    def _compute_price_unit(self):
        for record in self:
            record.price_unit = record.product_id.lst_price

    def _rebilling_dated(self):
        """Extend for records whose end date means nothing (their dates are not checked)."""
        return self

    @api.constrains("date_start", "date_end")
    def _check_dates(self):
        for record in self._rebilling_dated():
            if record.date_end and record.date_end < record.date_start:
                raise ValidationError(
                    self.env._("The end date of %s is before its start date.", record.display_name)
                )

    def _rebilling_date_end(self):
        """Extend for another last day billed (a charge ends with its service): its end."""
        self.ensure_one()
        return self.date_end

    @api.model
    def _rebilling_period_domain(self, date_from, date_to):
        """Records whose own dates have days in [date_from, date_to]."""
        return [
            ("date_start", "<=", date_to),
            "|",
            ("date_end", "=", False),
            ("date_end", ">=", date_from),
        ]

    @api.model
    def _billable_domain(self, partners, date_from, date_to):
        """Extend for other conditions: the records of ``partners`` that the run of
        [date_from, date_to] bills (``date_from``: its invoice date)."""
        return [
            ("partner_id", "in", partners.ids),
            *self._rebilling_period_domain(date_from, date_to),
        ]

    def _rebilling_line_links(self):
        """Extend for the fields of an invoice line that bills days of this record: what
        it bills (service, charge) and its kind (``rebilling_line_kind``)."""
        self.ensure_one()
        raise NotImplementedError(self._name)
