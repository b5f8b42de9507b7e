"""Invoices and ConnectWise: which invoices are ready, and when they are pushed.

Same contract as rebilling_autotask (both modules define the chained
``_rebilling_psa_ready()`` and ``_rebilling_psa_trigger_fields()``): an invoice
is pushed when generated, and when a trigger field (``state``,
``rebilling_review_state``) is written while it is ready (posted, not held for
review). Unchanged lines are not sent again.
"""

from odoo import models
from odoo.exceptions import UserError

HELD_REVIEW_STATES = ("under_review", "rejected")


class AccountMove(models.Model):
    _inherit = "account.move"

    def _rebilling_psa_ready(self):
        """Override point: the invoices of ``self`` ready to push to a PSA."""
        parent = getattr(super(), "_rebilling_psa_ready", None)
        moves = parent() if parent else self
        review = "rebilling_review_state" in self._fields
        return moves.filtered(
            lambda m: (
                m.move_type == "out_invoice"
                and m.state == "posted"
                and not (review and m.rebilling_review_state in HELD_REVIEW_STATES)
            )
        )

    def _rebilling_psa_trigger_fields(self):
        """Override point: fields whose write pushes the ready invoices again."""
        parent = getattr(super(), "_rebilling_psa_trigger_fields", None)
        names = set(parent()) if parent else set()
        return names | {"state", "rebilling_review_state"}

    def write(self, vals):
        res = super().write(vals)
        if self._rebilling_psa_trigger_fields() & set(vals):
            self._rebilling_connectwise_push()
        return res

    def _rebilling_connectwise_push(self):
        """Queue the ConnectWise lines of the ready invoices (connected, auto push)."""
        moves = self._rebilling_psa_ready()
        queued = self.env["account.move.line"]
        for company, group in moves.grouped("company_id").items():
            backend = self.env["rebilling.backend"].sudo()._connectwise_backend(company)
            if backend.state != "connected" or not backend.auto_push:
                continue
            lines = backend._connectwise_lines(group)
            if lines:
                queued |= backend._rebilling_enqueue_push(lines)
        return queued

    def action_rebilling_connectwise_push(self):
        """Push the lines of the invoices to ConnectWise now."""
        moves = self._rebilling_psa_ready()
        if not moves:
            raise UserError(self.env._("Select posted invoices that are not under review."))
        if len(moves.company_id) != 1:
            raise UserError(self.env._("Push the invoices of one company at a time."))
        backend = self.env["rebilling.backend"]._connectwise_backend(moves.company_id)
        if backend.state != "connected":
            raise UserError(self.env._("Connect to ConnectWise first."))
        lines = backend._connectwise_lines(moves)
        if not lines:
            raise UserError(self.env._("These invoices have no line for ConnectWise."))
        return backend._rebilling_push_now_or_later(lines)
