"""Invoices and Autotask: the push button (the push itself is shared, see rebilling_connector).

Invoices are pushed when they are generated (billing run) and whenever a
trigger field is written, if ``account.move._rebilling_external_ready()``
keeps them. Unchanged lines are not sent again (payload hash on their binding).
"""

from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def action_rebilling_autotask_push(self):
        """Push the VoIP utility items of the invoices to Autotask now."""
        return self._rebilling_psa_push_now("autotask")
