"""Invoices and the PSA connectors: pushed when ready, and the push buttons' logic."""

from odoo import models
from odoo.exceptions import UserError


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    def write(self, vals):
        res = super().write(vals)
        if self._rebilling_external_trigger_fields() & set(vals):
            self._rebilling_psa_push()
        return res

    def _rebilling_psa_push(self):
        """Queue the PSA lines of the ready invoices (connected backends with auto push)."""
        Backend = self.env["rebilling.backend"].sudo()
        queued = self.env["account.move.line"]
        types = Backend._psa_types()
        if not types:
            return queued
        moves = self._rebilling_external_ready()
        for backend_type in types:
            for company, group in moves.grouped("company_id").items():
                backend = Backend._psa_backend(company, backend_type)
                if backend.state != "connected" or not backend.auto_push:
                    continue
                lines = backend._psa_lines(group)
                if lines:
                    queued |= backend._rebilling_enqueue_push(lines)
        return queued

    def _rebilling_psa_push_now(self, backend_type):
        """Push the lines of the ready invoices to the PSA ``backend_type`` now."""
        moves = self._rebilling_external_ready()
        if not moves:
            raise UserError(self.env._("Select posted invoices that are ready to be pushed."))
        if len(moves.company_id) != 1:
            raise UserError(self.env._("Push the invoices of one company at a time."))
        backend = self.env["rebilling.backend"]._psa_backend(moves.company_id, backend_type)
        label = self.env["rebilling.backend"]._psa_of_type(backend_type)._psa_label()
        if backend.state != "connected":
            raise UserError(self.env._("Connect to %s first.", label))
        lines = backend._psa_lines(moves)
        if not lines:
            raise UserError(self.env._("These invoices have no line for %s.", label))
        return backend._rebilling_push_now_or_later(lines)
