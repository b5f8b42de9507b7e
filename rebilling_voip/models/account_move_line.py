from odoo import fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    rebilling_destination_group_id = fields.Many2one(
        "rebilling.destination.group", "Destination Group", copy=False, index="btree_not_null"
    )
    rebilling_call_count = fields.Integer("Calls", copy=False)
    rebilling_call_seconds = fields.Integer("Call Seconds", copy=False)
    rebilling_billed_seconds = fields.Integer("Billed Seconds", copy=False)

    def _copy_data_extend_business_fields(self, values):
        """A credit note made with Odoo's Credit Note keeps the usage of each line:
        its destination group and calls (the usage summary reads like the invoice)."""
        res = super()._copy_data_extend_business_fields(values)
        if self.rebilling_line_kind == "usage":
            values.update(
                {
                    "rebilling_destination_group_id": self.rebilling_destination_group_id.id,
                    "rebilling_call_count": self.rebilling_call_count,
                    "rebilling_call_seconds": self.rebilling_call_seconds,
                    "rebilling_billed_seconds": self.rebilling_billed_seconds,
                }
            )
        return res
