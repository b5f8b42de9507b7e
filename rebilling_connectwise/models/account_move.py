"""Invoices and ConnectWise: the push button (the push itself is shared, see rebilling_connector).

Invoices are pushed when generated and when a trigger field is written, if
``account.move._rebilling_external_ready()`` keeps them. Unchanged lines are
not sent again.
"""

from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def action_rebilling_connectwise_push(self):
        """Push the lines of the invoices to ConnectWise now."""
        return self._rebilling_psa_push_now("connectwise")
