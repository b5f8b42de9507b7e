"""Review flags of rebilling invoices: what an approver should look at.

Override point: ``_rebilling_review_flags()``, the review flag codes per invoice
(declared in ``rebilling_base``; ``rebilling_voip`` adds the usage-related ones).
"""

from collections import defaultdict

from odoo import models
from odoo.fields import Command
from odoo.tools import SQL

from .account_move_review import NO_LINE_SYNC


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------ flags
    def _rebilling_review_flags(self):
        """Hook: review flag codes per invoice, ``{move id: set of codes}``.

        This module raises ``first_invoice`` (no earlier invoice of the customer) and
        ``bill_shock`` (the total differs from the average of the customer's last 3
        invoices by more than the company's threshold).

        Usage-related flags need rated usage and CDRs, which ``rebilling_voip``
        provides: ``zero_usage`` (a service billed with zero usage),
        ``negative_margin`` (usage billed below wholesale cost) and
        ``unmatched_cdr`` (CDRs of the customer in the period that matched no
        service). Without an override they are never raised. A new code needs a
        ``rebilling.review.flag`` record; unknown codes are ignored.

        The hook is declared in ``rebilling_base``, so modules that do not depend
        on this one extend it with ``super()`` too.
        """
        result = super()._rebilling_review_flags()
        for (company, period), moves in (
            self.filtered("rebilling_period")
            .grouped(lambda m: (m.company_id, m.rebilling_period))
            .items()
        ):
            history = moves._rebilling_review_history(company, period)
            threshold = company.rebilling_review_shock_percent
            for move in moves:
                previous = history.get(move.partner_id.id)
                if not previous:
                    result[move.id].add("first_invoice")
                    continue
                average = sum(previous) / len(previous)
                if threshold and move._rebilling_review_is_shock(average, threshold):
                    result[move.id].add("bill_shock")
        return result

    def _rebilling_review_is_shock(self, average, threshold):
        self.ensure_one()
        if self.currency_id.is_zero(average):
            return not self.currency_id.is_zero(self.amount_total)
        return abs(self.amount_total - average) * 100.0 / abs(average) > threshold

    def _rebilling_review_history(self, company, period, count=3):
        """Totals of the last ``count`` posted invoices before ``period``, per partner id."""
        self.env["account.move"].flush_model(
            ["partner_id", "rebilling_period", "amount_total", "state", "move_type", "company_id"]
        )
        rows = self.env.execute_query(
            SQL(
                """
                SELECT partner_id, amount_total
                  FROM (
                    SELECT partner_id, amount_total,
                           row_number() OVER (
                               PARTITION BY partner_id ORDER BY rebilling_period DESC, id DESC
                           ) AS rank
                      FROM account_move
                     WHERE partner_id = ANY(%(partners)s)
                       AND company_id = %(company)s
                       AND move_type = 'out_invoice'
                       AND state = 'posted'
                       AND rebilling_period < %(period)s
                       AND id != ALL(%(ids)s)
                  ) AS previous
                 WHERE rank <= %(count)s
                """,
                partners=self.partner_id.ids,
                company=company.id,
                period=period,
                ids=self.ids,
                count=count,
            )
        )
        history = defaultdict(list)
        for partner_id, total in rows:
            history[partner_id].append(total)
        return history

    def _rebilling_review_update_flags(self):
        """Store the flags of ``_rebilling_review_flags()`` on the invoices."""
        if not self:
            return
        codes = self._rebilling_review_flags()
        flags = self.env["rebilling.review.flag"].sudo()._by_code(set().union(*codes.values()))
        by_set = defaultdict(list)
        for move in self:
            key = frozenset(code for code in codes.get(move.id, ()) if code in flags)
            by_set[key].append(move.id)
        for key, ids in by_set.items():
            self.browse(ids).sudo().with_context(**NO_LINE_SYNC).write(
                {"rebilling_review_flag_ids": [Command.set([flags[code].id for code in key])]}
            )
