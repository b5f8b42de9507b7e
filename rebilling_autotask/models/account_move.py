"""Invoices and Autotask: which invoices are ready, and when they are pushed.

An invoice is pushed when it is generated (billing run), and again whenever a
*trigger field* is written (``_rebilling_psa_trigger_fields``: ``state``, i.e.
posted again after a correction, and ``rebilling_review_state`` when the review
module is installed, i.e. approved). Only the invoices returned by
``_rebilling_psa_ready()`` go: posted customer invoices that are not held for
review. Unchanged lines are not sent again (payload hash on their binding).
"""

from odoo import models
from odoo.exceptions import UserError

# Review states holding an invoice back (rebilling_review, when installed).
HELD_REVIEW_STATES = ("under_review", "rejected")


class AccountMove(models.Model):
    _inherit = "account.move"

    def _rebilling_psa_ready(self):
        """Override point: the invoices of ``self`` ready to push to a PSA.

        Posted customer invoices that no review holds. Chains with the other
        connectors and with a review module defining the same method.
        """
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
            self._rebilling_autotask_push()
        return res

    def _rebilling_autotask_push(self):
        """Queue the Autotask lines of the ready invoices (connected backends with auto push)."""
        moves = self._rebilling_psa_ready()
        queued = self.env["account.move.line"]
        for company, group in moves.grouped("company_id").items():
            backend = self.env["rebilling.backend"].sudo()._autotask_backend(company)
            if backend.state != "connected" or not backend.auto_push:
                continue
            lines = backend._autotask_lines(group)
            if lines:
                queued |= backend._rebilling_enqueue_push(lines)
        return queued

    def action_rebilling_autotask_push(self):
        """Push the VoIP utility items of the invoices to Autotask now."""
        moves = self._rebilling_psa_ready()
        if not moves:
            raise UserError(self.env._("Select posted invoices that are not under review."))
        if len(moves.company_id) != 1:
            raise UserError(self.env._("Push the invoices of one company at a time."))
        backend = self.env["rebilling.backend"]._autotask_backend(moves.company_id)
        if backend.state != "connected":
            raise UserError(self.env._("Connect to Autotask first."))
        lines = backend._autotask_lines(moves)
        if not lines:
            raise UserError(self.env._("These invoices have no item for Autotask."))
        return backend._rebilling_push_now_or_later(lines)
