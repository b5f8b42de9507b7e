from odoo import fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    rebilling_destination_group_id = fields.Many2one(
        "rebilling.destination.group", "Destination Group", copy=False, index="btree_not_null"
    )
    rebilling_call_count = fields.Integer("Calls", copy=False)
    rebilling_call_seconds = fields.Integer("Call Seconds", copy=False)
    rebilling_billed_seconds = fields.Integer("Billed Seconds", copy=False)
