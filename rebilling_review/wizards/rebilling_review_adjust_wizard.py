from odoo import api, fields, models
from odoo.exceptions import UserError


class RebillingReviewAdjustWizard(models.TransientModel):
    """Add one manual credit or charge to an invoice under review."""

    _name = "rebilling.review.adjust.wizard"
    _description = "Adjust an invoice under review"

    move_id = fields.Many2one("account.move", "Invoice", required=True, readonly=True)
    company_id = fields.Many2one(related="move_id.company_id")
    currency_id = fields.Many2one(related="move_id.currency_id")
    amount_total = fields.Monetary("Current total", related="move_id.amount_total")
    adjustment_type = fields.Selection(
        [("credit", "Manual credit"), ("charge", "Manual charge")],
        "Type",
        required=True,
        default="credit",
        help="Manual credit: lowers the invoice total, e.g. a promotional credit. "
        "Manual charge: adds a service the invoice does not include, e.g. on-site support.",
    )
    name = fields.Char(
        "Description", required=True, help="The line the customer sees on the invoice."
    )
    amount = fields.Monetary(
        required=True, help="Amount excluding tax; a credit is deducted from the total."
    )
    tax_ids = fields.Many2many(
        "account.tax",
        string="Taxes",
        default=lambda self: self._default_tax_ids(),
        domain="[('type_tax_use', '=', 'sale'), ('company_id', 'parent_of', company_id)]",
        help="Taxes of the line; by default the company's sales tax.",
    )

    @api.model
    def _default_tax_ids(self):
        move = self.env["account.move"].browse(self.env.context.get("default_move_id"))
        company = move.company_id or self.env.company
        return company.account_sale_tax_id

    def action_adjust(self):
        self.ensure_one()
        if self.currency_id.compare_amounts(self.amount, 0.0) <= 0:
            raise UserError(self.env._("Enter an amount greater than zero."))
        self.move_id._rebilling_review_adjust(
            self.adjustment_type, self.name, self.amount, self.tax_ids
        )
        return {"type": "ir.actions.act_window_close"}
