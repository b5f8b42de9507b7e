from odoo import fields, models
from odoo.addons.rebilling_base.tools import notify


class RebillingCdrRateWizard(models.TransientModel):
    _name = "rebilling.cdr.rate.wizard"
    _description = "Rate Calls"
    _inherit = ["rebilling.company.mixin"]

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    date_from = fields.Date("From", help="Empty: from the first call.")
    date_to = fields.Date("To", help="Included, to 23:59:59. Empty: to the last call.")
    rerate = fields.Boolean(
        "Re-rate",
        help="Rate again the calls already rated, unmatched or in error (after a change of "
        "rates, services or destinations). Invoiced calls never change.",
    )

    def action_rate(self):
        self.ensure_one()
        company = self.company_id
        start, end = company._rebilling_days_utc(self.date_from, self.date_to)
        Cdr = self.env["rebilling.cdr"]
        count, jobs = Cdr._rate_in_jobs(company, start=start, end=end, rerate=self.rerate)
        if jobs:
            message = self.env._(
                "%(count)s calls to rate: rated in the background by %(jobs)s parallel jobs.",
                count=count,
                jobs=jobs,
            )
            return notify.notification(message, "info", next_action=notify.CLOSE)
        domain = [("company_id", "=", company.id), ("state", "in", ("unmatched", "error"))]
        if start:
            domain.append(("start_time", ">=", start))
        if end:
            domain.append(("start_time", "<", end))
        left = Cdr.search_count(domain)
        message = self.env._(
            "%(count)s calls rated; %(left)s unmatched or in error in this period.",
            count=count,
            left=left,
        )
        return notify.notification(
            message, "warning" if left else "success", next_action=notify.CLOSE
        )
