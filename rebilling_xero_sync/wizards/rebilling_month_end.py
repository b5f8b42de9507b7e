"""Month end: customers to be billed that have no Xero contact yet."""

from odoo import models


class RebillingMonthEnd(models.TransientModel):
    _inherit = "rebilling.month.end"

    def _rebilling_readiness_checks(self):
        checks = super()._rebilling_readiness_checks()
        backend = self.env["rebilling.backend"]._xero_backend(self.company_id)
        if backend.state != "connected":
            return checks
        customers = self._rebilling_billable_customers()
        linked = self.env["rebilling.binding"].search(
            [
                ("backend_type", "=", "xero"),
                ("res_model", "=", "res.partner"),
                ("res_id", "in", customers.ids),
                ("external_id", "!=", False),
            ]
        )
        missing = customers.browse(sorted(set(customers.ids) - set(linked.mapped("res_id"))))
        checks.append(
            {
                "code": "xero_contact",
                "severity": "check",
                "name": self.env._(
                    "Customers to be billed without a Xero contact (created at the first push, "
                    "or matched by name)"
                ),
                "count": len(missing),
                "res_model": "res.partner",
                "domain": [("id", "in", missing.ids)],
            }
        )
        return checks
