"""Month end: last month's invoices still held for review."""

from odoo import models


class RebillingMonthEnd(models.TransientModel):
    _inherit = "rebilling.month.end"

    def _rebilling_readiness_checks(self):
        checks = super()._rebilling_readiness_checks()
        domain = [
            *self._rebilling_last_month_moves_domain(),
            ("rebilling_review_state", "=", "under_review"),
        ]
        [(count, amount)] = self.env["account.move"]._read_group(
            domain, [], ["__count", "amount_total_signed:sum"]
        )
        checks.append(
            {
                "code": "last_month_under_review",
                "severity": "spoil",
                "name": self.env._("Invoices of last month still under review"),
                "count": count,
                "amount": amount or 0.0,
                "res_model": "account.move",
                "domain": domain,
            }
        )
        return checks
