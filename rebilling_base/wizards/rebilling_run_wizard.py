from odoo import fields, models


class RebillingRunWizard(models.TransientModel):
    """Start or preview the billing run of any month by hand."""

    _name = "rebilling.run.wizard"
    _description = "Run Rebilling"
    _inherit = ["rebilling.company.mixin"]

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    period_start = fields.Date(
        "Invoice date",
        required=True,
        default=lambda self: fields.Date.context_today(self).replace(day=1),
        help="Any day of the invoiced month: invoices are dated on its 1st.",
    )
    dry_run = fields.Boolean(
        "Preview only", help="Compute the amounts per customer without creating invoices."
    )

    def action_run(self):
        self.ensure_one()
        Run = self.env["rebilling.billing.run"]
        run = Run._get_or_create(self.company_id, self.period_start, dry_run=self.dry_run)
        if self.dry_run:
            # A preview is recomputed from scratch each time.
            run.line_ids.unlink()
            run.write({"state": "draft", "date_started": False, "date_finished": False})
        run.action_start()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Billing run"),
            "res_model": "rebilling.billing.run",
            "res_id": run.id,
            "view_mode": "form",
        }
