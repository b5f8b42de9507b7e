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

    def _copy_data_extend_business_fields(self, values):
        """A credit note's lines keep their kind (its summary reads as the invoice's)."""
        res = super()._copy_data_extend_business_fields(values)
        if self.rebilling_line_kind:
            values["rebilling_line_kind"] = self.rebilling_line_kind
        return res
