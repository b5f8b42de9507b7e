from odoo import fields, models


class RebillingReviewReissueWizard(models.TransientModel):
    """Mark invoices under review for reissue: now or at the off-peak hour."""

    _name = "rebilling.review.reissue.wizard"
    _description = "Reissue invoices under review"

    move_ids = fields.Many2many("account.move", string="Invoices", required=True, readonly=True)
    move_count = fields.Integer(compute="_compute_move_count")
    when = fields.Selection(
        [
            ("off_peak", "At the nearest off-peak hour"),
            ("now", "Now"),
        ],
        "Reissue",
        required=True,
        default="off_peak",
        help="At the nearest off-peak hour: the invoices stay Rejected until the recalculation, "
        "recommended for many invoices. Now: the corrected invoices are available at once.",
    )

    def _compute_move_count(self):
        for wizard in self:
            wizard.move_count = len(wizard.move_ids)

    def action_reissue(self):
        self.ensure_one()
        self.move_ids._rebilling_review_reject(self.when)
        return {"type": "ir.actions.act_window_close"}
