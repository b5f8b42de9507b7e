"""The Summary shows the readiness of the company's next run until it starts."""

from odoo import fields, models


class RebillingBillingRun(models.Model):
    _inherit = "rebilling.billing.run"  # pylint: disable=consider-merging-classes-inherited

    readiness_count = fields.Integer(
        "Things to fix before the next run",
        compute="_compute_readiness",
        help="What would block or spoil the company's next billing run (Rebilling > Month end).",
    )
    readiness_summary = fields.Char(compute="_compute_readiness")

    def _compute_readiness(self):
        MonthEnd = self.env["rebilling.month.end"]
        by_company = {}
        for run in self:
            company = run.company_id
            if company not in by_company:
                checks = MonthEnd._rebilling_checks_of(company) if company else []
                by_company[company] = checks
            checks = by_company[company]
            run.readiness_count = len(checks)
            run.readiness_summary = "; ".join(
                f"{check['name']}: {check['count']}" for check in checks[:3]
            ) + ("; …" if len(checks) > 3 else "")

    def action_open_month_end(self):
        self.ensure_one()
        return (
            self.env["rebilling.month.end"]
            .with_company(self.company_id)
            ._rebilling_build(self.company_id)
            ._rebilling_form_action()
        )
