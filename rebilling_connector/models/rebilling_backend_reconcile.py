"""Reconciliation: the month's documents read back from a connected system.

A connector that can read its documents back extends
:meth:`_rebilling_reconcile_supported`, :meth:`_rebilling_reconcile_fetch` and
:meth:`_rebilling_reconcile_bad_statuses` and, when the system does not hold the
invoice's total, :meth:`_rebilling_reconcile_expected`. A PSA extends none of them:
its spec (``rebilling_backend_psa.PsaSpec``) names its ``reconcile_fetch`` method
and its ``reconcile_bad_statuses``, and it holds the invoice's lines. The
comparison lives once, here.
"""

from collections import defaultdict

from odoo import api, models
from odoo.tools import float_compare


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _rebilling_reconcile_backends(self, company):
        """The connected backends of ``company`` that can read their documents back."""
        backends = self.sudo().search(
            [("company_id", "=", company.id), ("state", "=", "connected")]
        )
        return backends.filtered(lambda b: b._rebilling_reconcile_supported())

    def _rebilling_reconcile_supported(self):
        """Extend for a connector that reads the month's documents back (a PSA: when
        its spec names a ``reconcile_fetch`` method)."""
        return self._psa_is() and bool(self._psa_spec().reconcile_fetch)

    def _rebilling_reconcile_expected(self, moves):
        """Extend for a system holding part of a document: ``{move id: total}`` that the
        system should hold for each of ``moves`` (none: the move does not go there).
        By default the document's total; a PSA holds the items of the document's lines
        it bills (quantity x unit price, rounded to the cent)."""
        if not self._psa_is():
            return {move.id: move.amount_total for move in moves}
        totals = defaultdict(float)
        for line in self._psa_lines(moves):
            quantity, price, _cost = self._psa_line_amounts(line)
            totals[line.move_id.id] += line.move_id.currency_id.round(quantity * price)
        return dict(totals)

    def _psa_reconcile_moves_of(self, markers):
        """``{marker: move id}`` of the exactly-once markers of this database's items."""
        prefix = self._psa_marker(self.env["account.move.line"]).rsplit(":", 1)[0] + ":"
        line_ids = {}
        for marker in markers:
            if marker and marker.startswith(prefix) and marker[len(prefix) :].isdigit():
                line_ids[marker] = int(marker[len(prefix) :])
        lines = self.env["account.move.line"].browse(set(line_ids.values())).exists()
        move_of = {line.id: line.move_id.id for line in lines}
        return {marker: move_of.get(line_id, False) for marker, line_id in line_ids.items()}

    def _rebilling_reconcile_bad_statuses(self):
        """Extend: the statuses of a remote document that mean it will not be billed
        (a PSA: its spec's ``reconcile_bad_statuses``)."""
        return set(self._psa_spec().reconcile_bad_statuses) if self._psa_is() else set()

    def _rebilling_reconcile_fetch(self, run, moves):
        """Extend: the month's documents of ``run`` held by the system, read back in pages.

        A list of dicts: ``move_id`` (the Odoo document, False when unknown),
        ``reference``, ``external_id``, ``total`` and ``status``. Several items of
        the same document (the lines pushed to a PSA) are added up. A PSA: the method
        its spec names (``reconcile_fetch(run, moves)``).
        """
        method = self._psa_method("reconcile_fetch") if self._psa_is() else None
        return method(run, moves) if method else []

    def _rebilling_reconcile_lines(self, run, moves):
        """The values of the reconciliation lines of ``run`` for this system."""
        self.ensure_one()
        expected = self._rebilling_reconcile_expected(moves)
        docs = self._rebilling_reconcile_fetch(run, moves)
        bad = self._rebilling_reconcile_bad_statuses()
        currency = run.company_id.currency_id
        by_move = defaultdict(list)
        extras = []
        for doc in docs:
            if doc.get("move_id") in expected:
                by_move[doc["move_id"]].append(doc)
            elif (doc.get("status") or "") not in bad:
                extras.append(doc)
        base = {"run_id": run.id, "backend_id": self.id}
        vals = []
        for move in moves.filtered(lambda m: m.id in expected):
            total = currency.round(expected[move.id])
            found = by_move.get(move.id)
            line = dict(base, move_id=move.id, reference=move.name, odoo_total=total)
            if not found:
                vals.append(dict(line, kind="missing"))
                continue
            statuses = sorted({doc.get("status") or "" for doc in found} - {""})
            remote = currency.round(sum(doc["total"] for doc in found if doc["status"] not in bad))
            line.update(
                remote_total=remote,
                remote_status=", ".join(statuses),
                external_id=", ".join(str(doc["external_id"]) for doc in found)[:250],
            )
            if set(statuses) & bad:
                vals.append(dict(line, kind="status"))
            elif float_compare(remote, total, precision_rounding=currency.rounding):
                vals.append(dict(line, kind="total"))
        for doc in extras:
            vals.append(
                dict(
                    base,
                    kind="extra",
                    move_id=doc.get("move_id") or False,
                    reference=doc.get("reference"),
                    external_id=str(doc.get("external_id") or ""),
                    remote_total=doc.get("total") or 0.0,
                    remote_status=doc.get("status") or False,
                )
            )
        return vals
