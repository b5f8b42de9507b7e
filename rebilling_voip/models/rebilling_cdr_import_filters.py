"""CDR imports, the format's filters: rows skipped, callers that are no number.

Rows of another direction or disposition than those billed, shorter than the
minimum billable seconds, or calls to an extension are skipped and counted (not
calls to bill, not errors); withheld callers and extensions are no number to
match (the trunk matches such calls). A filter the format does not use adds
nothing to the typing.
"""

from odoo import models
from odoo.tools import SQL


class RebillingCdrImportFilters(models.Model):
    _inherit = "rebilling.cdr.import"  # pylint: disable=consider-merging-classes-inherited

    def _has_filters(self):
        """Whether the format's filters can skip rows (``_skip_sql``)."""
        fmt = self.format_id
        return bool(
            (fmt.col_direction and fmt._list_values("direction_values"))
            or (fmt.col_disposition and fmt._list_values("disposition_values"))
            or fmt.min_seconds > 0
            or fmt.extension_digits
        )

    def _skip_sql(self, duration, marks=frozenset()):
        """SQL condition on a typed row ``d``: the format's filters leave it out.

        Rows of another direction or disposition than those billed, shorter than
        the minimum billable seconds (``duration``: its SQL), or calls to an
        extension (not a phone number: ``internal`` in ``marks``, see
        ``_flag_numbers``). Extend for other filters.
        """
        fmt = self.format_id
        conds = []
        for column, col_field, fname in (
            ("direction_raw", "col_direction", "direction_values"),
            ("disposition_raw", "col_disposition", "disposition_values"),
        ):
            values = fmt._list_values(fname)
            if values and fmt[col_field]:
                conds.append(
                    SQL("lower(COALESCE(%s, '')) <> ALL(%s)", SQL.identifier("d", column), values)
                )
        if fmt.min_seconds > 0:
            conds.append(SQL("(%s) < %s", duration, fmt.min_seconds))
        if "internal" in marks:
            conds.append(SQL("nd.internal"))
        if not conds:
            return SQL("false")
        return SQL(
            "(d.ncols = %s AND COALESCE(%s, false))",
            fmt.column_count,
            SQL(" OR ").join(SQL("(%s)", c) for c in conds),
        )

    def _blank_caller_sql(self, caller):
        """SQL condition: the ``caller`` text is no number to match (withheld, an extension).

        ``None`` when the format has no such values. Such calls are matched by
        their trunk.
        """
        fmt = self.format_id
        conds = []
        withheld = fmt._list_values("withheld_callers")
        if withheld:
            # Numbers (digits, +, parentheses) never are: tested first, without a copy.
            conds.append(
                SQL(
                    "(left(%s, 1) NOT IN ('+', '(', '0', '1', '2', '3', '4', '5', '6', '7', "
                    "'8', '9') AND lower(%s) = ANY(%s))",
                    caller,
                    caller,
                    withheld,
                )
            )
        if fmt.extension_digits:
            conds.append(self._extension_sql(caller))
        return SQL("(%s)", SQL(" OR ").join(conds)) if conds else None

    def _extension_sql(self, text):
        """SQL condition: ``text`` is an extension of the PBX (``extension_digits``)."""
        bare = SQL(
            "CASE WHEN lower(%(t)s) LIKE 'ext%%' THEN ltrim(substr(%(t)s, 4), '. ') ELSE %(t)s END",
            t=text,
        )
        return SQL(
            "(length(%(t)s) <= %(n)s + 4 AND length(%(b)s) BETWEEN 1 AND %(n)s "
            "AND translate(%(b)s, '0123456789', '') = '')",
            t=text,
            b=bare,
            n=self.format_id.extension_digits,
        )
