"""Call detail records, usage: the rated calls billed on invoices.

Usage lines sum the rated calls per customer and destination group (and usage
month) in SQL; the calls billed are linked to their invoice in one UPDATE, and
become billable again when it is cancelled or deleted. Billing holds the rating
of the company (shared advisory locks, ``_lock_rating``) while it adds up.
"""

from collections import defaultdict

from dateutil.relativedelta import relativedelta

from odoo import api, models
from odoo.tools import SQL, float_round, format_date


class RebillingCdrUsage(models.Model):
    _inherit = "rebilling.cdr"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _usage_where(self, company, partner_ids, start, end, invoice_ids=None):
        """SQL condition on ``c``: the calls a usage invoice bills.

        Rated, of a service enabled for invoicing, started before ``end`` and (when
        given) from ``start``, of ``partner_ids`` (all customers when ``None``).
        ``invoice_ids``: invoices computed again (a reissue); their own calls
        count as not billed yet.
        """
        state = SQL("c.state = 'rated'")
        if invoice_ids:
            state = SQL(
                "(c.state = 'rated' OR (c.state = 'invoiced' AND c.invoice_id = ANY(%s)))",
                list(invoice_ids),
            )
        where = [
            SQL("c.company_id = %s AND %s AND c.start_time < %s", company.id, state, end),
            SQL(
                "EXISTS (SELECT 1 FROM rebilling_service s "
                "WHERE s.id = c.service_id AND s.invoice_enabled)"
            ),
        ]
        if start:
            where.append(SQL("c.start_time >= %s", start))
        if partner_ids is not None:
            where.append(SQL("c.partner_id = ANY(%s)", list(partner_ids)))
        return SQL(" AND ").join(where)

    @api.model
    def _usage_summary(self, company, partner_ids, start, end, invoice_ids=None):
        """Rated, uninvoiced calls per customer and destination group, summed in SQL.

        ``[(partner_id, group_id, calls, seconds, billed seconds, amount, service_id)]``
        where ``service_id`` is set when all calls of the row come from one service.
        """
        return self._usage_rows(company, partner_ids, start, end, invoice_ids)

    @api.model
    def _usage_summary_by_month(self, company, partner_ids, start, end, invoice_ids=None):
        """Like ``_usage_summary``, per usage month too (the company's time zone): rows
        ``(partner_id, group_id, calls, seconds, billed seconds, amount, service_id,
        month)`` where ``month`` is the 1st of the calls' local month. Late calls keep
        their own month on the invoice. Extend for another split of the usage lines."""
        month = SQL(
            "date_trunc('month', (c.start_time AT TIME ZONE 'UTC') AT TIME ZONE %s)::date",
            company.rebilling_tz or "UTC",
        )
        return self._usage_rows(company, partner_ids, start, end, invoice_ids, month=month)

    @api.model
    def _usage_rows(self, company, partner_ids, start, end, invoice_ids=None, month=None):
        """The sums of both summaries, grouped by ``month`` too when it is given."""
        if not partner_ids:
            return []
        self.flush_model()
        self._lock_rating(company, shared=True)
        self.env.cr.execute(
            SQL(
                """
                SELECT c.partner_id, c.destination_group_id, count(*), sum(c.duration),
                       sum(c.billed_seconds), sum(c.price),
                       CASE WHEN min(c.service_id) = max(c.service_id)
                            THEN min(c.service_id) END
                       %s
                  FROM rebilling_cdr c
                 WHERE %s
                 GROUP BY c.partner_id, c.destination_group_id %s
                """,
                SQL(", %s", month) if month else SQL(""),
                self._usage_where(company, partner_ids, start, end, invoice_ids),
                SQL(", 8") if month else SQL(""),
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _usage_partner_ids(self, company, start, end):
        """Customers with rated calls to bill in [start, end)."""
        self.flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT DISTINCT c.partner_id FROM rebilling_cdr c WHERE %s",
                self._usage_where(company, None, start, end),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _usage_line_vals(
        self, company, partner_ids, start, end, label, invoice_ids=None, month_label=None
    ):
        """Invoice line values of the usage, per partner id, one line per destination group.

        ``label``: the period text, or a function of the partner id giving it (in the
        customer's language). ``invoice_ids``: see ``_usage_where``. ``month_label``:
        a function ``(partner id, first day, last day)`` giving a period text; with it,
        one line per destination group and usage month, each labelled with its own
        month (late calls of earlier months on lines of their own).
        """
        if month_label:
            rows = self._usage_summary_by_month(company, partner_ids, start, end, invoice_ids)
        else:
            rows = [
                (*row, None)
                for row in self._usage_summary(company, partner_ids, start, end, invoice_ids)
            ]
        groups = self.env["rebilling.destination.group"].browse({row[1] for row in rows})
        default_product = company._rebilling_voice_product()
        digits = company.currency_id.decimal_places
        result = defaultdict(list)
        rows.sort(key=lambda r: (r[0], r[7] or 0, groups.browse(r[1]).sequence, r[1]))
        for partner_id, group_id, calls, seconds, billed, amount, service_id, month in rows:
            if month:
                period = month_label(partner_id, month, month + relativedelta(months=1, days=-1))
            else:
                period = label(partner_id) if callable(label) else label
            group = groups.browse(group_id)
            product = group.product_id or default_product
            minutes = (seconds or 0) / 60.0
            result[partner_id].append(
                {
                    "product_id": product.id,
                    "name": (
                        self.env._("%(group)s: %(calls)s call, %(minutes)s min (%(period)s)")
                        if calls == 1
                        else self.env._("%(group)s: %(calls)s calls, %(minutes)s min (%(period)s)")
                    )
                    % {
                        "group": group.name,
                        "calls": calls,
                        "minutes": f"{minutes:.1f}",
                        "period": period,
                    },
                    "quantity": 1.0,
                    "price_unit": float_round(float(amount or 0.0), precision_digits=digits),
                    "rebilling_line_kind": "usage",
                    "rebilling_service_id": service_id,
                    "rebilling_destination_group_id": group_id,
                    "rebilling_call_count": calls,
                    "rebilling_call_seconds": int(seconds or 0),
                    "rebilling_billed_seconds": int(billed or 0),
                }
            )
        return result

    @api.model
    def _link_invoices(self, invoices, start, end):
        """Mark the calls billed on ``invoices`` invoiced: one UPDATE for all of them."""
        invoices = invoices.filtered(
            lambda m: "usage" in m.invoice_line_ids.mapped("rebilling_line_kind")
        )
        linked = 0
        for company, moves in invoices.grouped("company_id").items():
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE rebilling_cdr c
                       SET state = 'invoiced', invoice_id = m.id
                      FROM account_move m
                     WHERE m.id = ANY(%s) AND m.partner_id = c.partner_id AND %s
                    """,
                    moves.ids,
                    self._usage_where(company, moves.partner_id.ids, start, end),
                )
            )
            linked += self.env.cr.rowcount
        self.invalidate_model()
        return linked

    @api.model
    def _unlink_invoices(self, invoices):
        """The calls of cancelled or deleted invoices can be billed again."""
        if not invoices:
            return 0
        self.flush_model()
        self.env.cr.execute(
            SQL(
                "UPDATE rebilling_cdr SET state = 'rated', invoice_id = NULL "
                "WHERE invoice_id = ANY(%s)",
                invoices.ids,
            )
        )
        self.invalidate_model()
        return self.env.cr.rowcount

    @api.model
    def _period_label(self, date_from, date_to):
        return f"{format_date(self.env, date_from)} - {format_date(self.env, date_to)}"
