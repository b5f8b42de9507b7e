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
