from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    def _has_to_be_paid(self):
        """No "Pay Now" on the portal when the company has no payment provider to pay
        with (Odoo would lead to "No payment method available")."""
        return super()._has_to_be_paid() and self._rebilling_has_payment_provider()

    def _rebilling_has_payment_provider(self):
        """Extend for other ways to pay online."""
        self.ensure_one()
        return bool(
            self.env["payment.provider"]
            .sudo()
            .search_count(
                [("state", "in", ("enabled", "test")), ("company_id", "=", self.company_id.id)],
                limit=1,
            )
        )
