"""One check of the month-end readiness: what, how many, at stake, where to fix it."""

import ast

from odoo import fields, models
from odoo.exceptions import UserError

from .rebilling_month_end import SEVERITIES


class RebillingMonthEndLine(models.TransientModel):
    _name = "rebilling.month.end.line"
    _description = "Month End Readiness Check"
    _order = "sequence, id"

    month_end_id = fields.Many2one("rebilling.month.end", required=True, ondelete="cascade")
    currency_id = fields.Many2one(related="month_end_id.currency_id")
    sequence = fields.Integer()
    code = fields.Char(readonly=True)
    severity = fields.Selection(SEVERITIES, readonly=True)
    name = fields.Char("What", readonly=True)
    count = fields.Integer(readonly=True)
    amount = fields.Monetary("Amount at Stake", readonly=True)
    res_model = fields.Char(readonly=True)
    domain = fields.Char(readonly=True)
    open_method = fields.Char(readonly=True)

    def action_open(self):
        """The records this check counts, to fix them."""
        self.ensure_one()
        if self.open_method:
            if not self.open_method.startswith("_rebilling_open_"):
                raise UserError(self.env._("This check has no page to open."))
            return getattr(self.month_end_id, self.open_method)()
        return {
            "type": "ir.actions.act_window",
            "name": self.name,
            "res_model": self.res_model,
            "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")],
            "domain": ast.literal_eval(self.domain or "[]"),
            "context": {"active_test": False},
            "target": "current",
        }
