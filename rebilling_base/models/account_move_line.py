from odoo import fields, models

LINE_KINDS = [
    ("service", "Services"),
    ("recurring", "Recurring charges"),
    ("once", "Once-off charges"),
    ("usage", "Usage"),
    ("manual", "Adjustments"),
]


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    rebilling_service_id = fields.Many2one("rebilling.service", index="btree_not_null", copy=False)
    rebilling_charge_id = fields.Many2one("rebilling.charge", index="btree_not_null", copy=False)
    rebilling_line_kind = fields.Selection(LINE_KINDS, copy=False)
    rebilling_date_from = fields.Date("Billed From", copy=False)
    rebilling_date_to = fields.Date("Billed To", copy=False)
    rebilling_credited_line_id = fields.Many2one(
        "account.move.line",
        "Credits Line",
        copy=False,
        index="btree_not_null",
        help="The line billed in advance whose unused days this line credits.",
    )
    rebilling_credit_line_ids = fields.One2many(
        "account.move.line", "rebilling_credited_line_id", "Credit Lines"
    )
    rebilling_month_amount = fields.Float(
        "Monthly Amount",
        digits=(16, 6),
        copy=False,
        help="Quantity x monthly price of what the line bills: a part of the month is "
        "worth this amount x its days / the days of the month (credits of unused days).",
    )

    def _copy_data_extend_business_fields(self, values):
        """A credit note made with Odoo's Credit Note (a reversal) keeps what each line
        bills: its kind, service, charge, billed days and monthly amount, and which billed
        line it credits (the line itself, or the line a reversed credit line credited),
        so that it reads like the invoice and later runs know which days it credited.
        A line credited in part before credits only the rest
        (``rebilling.adjustment._reversal_vals``).
        Extend for more rebilling fields (e.g. the calls of a usage line)."""
        res = super()._copy_data_extend_business_fields(values)
        if not self.rebilling_line_kind:
            return res
        values.update(
            {
                "rebilling_service_id": self.rebilling_service_id.id,
                "rebilling_charge_id": self.rebilling_charge_id.id,
                "rebilling_line_kind": self.rebilling_line_kind,
                "rebilling_date_from": self.rebilling_date_from,
                "rebilling_date_to": self.rebilling_date_to,
                "rebilling_month_amount": self.rebilling_month_amount,
                "rebilling_credited_line_id": (self.rebilling_credited_line_id or self).id,
                **self.env["rebilling.adjustment"]._reversal_vals(self),
            }
        )
        return res
