"""CDR imports, typing: the staged text fields to typed rows, numbers normalized once.

The distinct phone numbers of the file are normalized once (``nums``, through
``rebilling.phone.number``) and marked where the format treats them apart; the
fields are typed in one flat query that PostgreSQL runs on every core (the work
tables are UNLOGGED tables of the import's own, not temporary ones: parallel
workers cannot read temporary tables). Each expression is built for the format
and the file (``tools.cdr_parsing``): what they do not use costs nothing per row.
"""

import logging

import psycopg2

from odoo import models
from odoo.tools import SQL

from ..tools import cdr_parsing, numbers
from .rebilling_cdr_import import MAX_KEY_LENGTH

_logger = logging.getLogger(__name__)


class RebillingCdrImportTyping(models.Model):
    _inherit = "rebilling.cdr.import"  # pylint: disable=consider-merging-classes-inherited

    def _build_numbers(self, region, fields_sql):
        """The nums table ``(raw, e164)`` of the distinct numbers of the file.

        Each number is normalized once: known ones come from
        ``rebilling.phone.number``, the others are normalized now and kept there.
        """
        return self.env["rebilling.phone.number"]._build_lookup(
            self._work("nums"),
            self._work("numsnew"),
            SQL(
                """
                SELECT num FROM (
                    SELECT called_raw AS num FROM (%(fields)s) f
                    UNION ALL
                    SELECT caller_raw FROM (%(fields)s) f
                ) n
                 WHERE num <> ''
                 GROUP BY num
                """,
                fields=fields_sql,
            ),
            region,
            style=None
            if self.format_id.number_style == "national"
            else self.format_id.number_style,
        )

    def _flag_numbers(self):
        """Mark the numbers of the nums table that the typing treats apart.

        Per distinct number rather than per row: ``blank``, a caller that is no
        number to match (withheld, an extension: the trunk matches such calls);
        ``internal``, a called extension (the call is skipped); ``local_digits``,
        the digits of a number dialled without its area code
        (``tools.numbers``). Returns the marks some number of the file has: a
        mark the format cannot have, or that no number has, costs the typing
        nothing. Extend for other marks (and read them in ``_type_rows``).
        """
        fmt = self.format_id
        raw = SQL("raw")
        # name: (column type, SQL of the mark of the number ``raw``, NULL: none)
        marks = {}
        blank = self._blank_caller_sql(raw)
        if blank:
            marks["blank"] = (SQL("boolean"), SQL("CASE WHEN %s THEN true END", blank))
        if fmt.extension_digits:
            marks["internal"] = (
                SQL("boolean"),
                SQL("CASE WHEN e164 IS NULL AND %s THEN true END", self._extension_sql(raw)),
            )
        local = numbers.local_digits_sql(self.company_id._rebilling_region(), raw)
        if local:
            marks["local_digits"] = (SQL("text"), local)
        if not marks:
            return set()
        cr = self.env.cr
        nums = self._work("nums")
        columns = [SQL.identifier(name) for name in marks]

        def each(template, part):
            """``template % (column, its type or SQL)`` for every mark, comma-separated."""
            return SQL(", ").join(
                SQL(template, column, spec[part])
                for column, spec in zip(columns, marks.values(), strict=True)
            )

        cr.execute(SQL("ALTER TABLE %s %s", nums, each("ADD COLUMN %s %s", 0)))
        cr.execute(SQL("UPDATE %s SET %s", nums, each("%s = %s", 1)))
        cr.execute(
            SQL(
                "SELECT %s FROM %s",
                SQL(", ").join(SQL("count(%s) > 0", column) for column in columns),
                nums,
            )
        )
        return {name for name, used in zip(marks, cr.fetchone(), strict=True) if used}

    def _build_rows(self, fields_sql, marks=frozenset()):
        """Type the fields (``fields_sql``) into the rows table, in parallel.

        One flat query (no ``OFFSET 0`` fences, which would keep PostgreSQL from
        running it on several cores): the text fields, the typed values, NULL
        where the text is not valid (``_valid_sql`` and ``_reason_sql`` read
        them), and the E.164 numbers. ``marks``: see ``_flag_numbers``.
        """
        if self.format_id.date_format == "iso":
            try:
                with self.env.cr.savepoint(flush=False):
                    self._type_rows(fields_sql, fast=True, marks=marks)
                    return
            except psycopg2.DataError as exc:
                _logger.info("CDR import %s: dates typed one by one (%s)", self.id, exc)
        self._type_rows(fields_sql, marks=marks)

    def _type_rows(self, fields_sql, fast=False, marks=frozenset()):
        """The query of ``_build_rows``; ``fast``: see ``tools.cdr_parsing.date_sql``.

        Each expression is built for the format and the file: what it does not
        use (a date layout, a duration layout, a filter, a mark of
        ``_flag_numbers``) is not in the query at all.
        """
        fmt = self.format_id
        levels, start_expr, duration = cdr_parsing.start_and_duration_sql(
            fmt.date_format, fmt.timezone, fmt.duration_format, bool(fmt.col_answer), fast=fast
        )
        # Plain subqueries: PostgreSQL folds them into one level.
        for level in levels:
            fields_sql = SQL("SELECT p.*, %s FROM (%s) p", level, fields_sql)
        caller_raw, caller_e164 = SQL("d.caller_raw"), SQL("nc.e164")
        if "blank" in marks:
            caller_raw = SQL("CASE WHEN nc.blank THEN '' ELSE d.caller_raw END")
            caller_e164 = SQL("CASE WHEN nc.blank THEN NULL ELSE nc.e164 END")
        called = SQL("nd.e164")
        if "local_digits" in marks:
            called = numbers.local_dialling_sql(
                self.company_id._rebilling_region(), SQL("nd.local_digits"), caller_e164, called
            )
        cost = cdr_parsing.cost_sql(SQL("d.cost_raw")) if fmt.col_cost else SQL("0::numeric")
        self.env.cr.execute(
            SQL(
                """
                CREATE UNLOGGED TABLE %(rows)s AS
                SELECT d.lineno, d.ncols, %(caller_raw)s AS caller_raw, d.called_raw, d.call_id,
                       d.trunk, %(start)s AS start_ts,
                       %(duration)s AS duration,
                       %(cost)s AS cost,
                       %(caller_e164)s AS caller_e164, %(called)s AS called_e164,
                       %(skip)s AS skip
                  FROM (%(fields)s) d
                  LEFT JOIN %(nums)s nc ON nc.raw = d.caller_raw
                  LEFT JOIN %(nums)s nd ON nd.raw = d.called_raw
                """,
                rows=self._work("rows"),
                nums=self._work("nums"),
                fields=fields_sql,
                start=start_expr,
                duration=duration,
                caller_raw=caller_raw,
                caller_e164=caller_e164,
                called=called,
                skip=self._skip_sql(duration, marks),
                cost=cost,
            ),
            log_exceptions=not fast,
        )

    # ------------------------------------------------------------ validity
    def _valid_sql(self):
        """SQL condition on a row of the rows table: it can become a CDR.

        Only the tests that can fail in this format: no trunk test when its calls
        have no trunk, no call id test without a call id column, no filter test
        without filters (see ``_reason_sql`` for the reasons).
        """
        fmt = self.format_id
        conds = [
            SQL(
                "ncols = %s AND start_ts IS NOT NULL AND duration IS NOT NULL "
                "AND cost IS NOT NULL AND called_e164 IS NOT NULL",
                fmt.column_count,
            )
        ]
        if self._has_filters():
            conds.append(SQL("NOT skip"))
        if self._has_trunk():
            conds.append(
                SQL(
                    "(caller_raw <> '' OR trunk IS NOT NULL) "
                    "AND (caller_raw = '' OR caller_e164 IS NOT NULL) "
                    "AND COALESCE(length(trunk), 0) <= %s",
                    MAX_KEY_LENGTH,
                )
            )
        else:
            conds.append(SQL("caller_raw <> '' AND caller_e164 IS NOT NULL"))
        if fmt.col_call_id:
            conds.append(SQL("COALESCE(length(call_id), 0) <= %s", MAX_KEY_LENGTH))
        return SQL(" AND ").join(conds)

    def _has_trunk(self):
        """Whether calls of this import can have a trunk (a column, the upload's, the format's)."""
        return bool(self.format_id.col_trunk or self._fixed_trunk())

    def _fixed_trunk(self):
        """The trunk of the calls without one: the upload's, else the format's (or ``False``)."""
        return (self.trunk or self.format_id._fixed_trunk() or "").strip() or False

    def _reason_sql(self, ncols):
        """SQL of the reason why a row of the rows table is an error (first problem only)."""
        return SQL(
            """
            CASE
                WHEN ncols <> %(ncols)s THEN %(bad_count)s || ncols || %(instead)s
                WHEN start_raw IS NULL THEN %(no_start)s
                WHEN start_ts IS NULL THEN %(bad_date)s || start_raw
                WHEN duration_raw LIKE '-%%' THEN %(negative)s || duration_raw
                WHEN duration IS NULL THEN %(bad_duration)s || COALESCE(duration_raw, '')
                WHEN called_raw IS NULL THEN %(no_called)s
                WHEN cost IS NULL THEN %(bad_cost)s || cost_raw
                WHEN caller_raw = '' AND trunk IS NULL THEN %(no_caller)s
                WHEN length(call_id) > %(max)s THEN %(long_id)s
                WHEN length(trunk) > %(max)s THEN %(long_trunk)s
                WHEN called_e164 IS NULL THEN %(bad_called)s || called_raw || %(hint)s
                ELSE %(bad_caller)s || caller_raw || %(hint)s
            END
            """,
            ncols=ncols,
            hint=self._reason_region_hint(),
            bad_count=self.env._("Wrong column count: "),
            instead=self.env._(" instead of %s", ncols),
            no_start=self.env._("Missing start time"),
            bad_date=self.env._("Unparsable date: "),
            negative=self.env._("Negative duration: "),
            bad_duration=self.env._("Unparsable duration: "),
            no_called=self.env._("Missing called number"),
            bad_cost=self.env._("Unparsable cost: "),
            no_caller=self.env._("Missing caller and trunk"),
            bad_called=self.env._("Unknown number format (called): "),
            bad_caller=self.env._("Unknown number format (caller): "),
            max=MAX_KEY_LENGTH,
            long_id=self.env._("Call id longer than %s characters", MAX_KEY_LENGTH),
            long_trunk=self.env._("Trunk longer than %s characters", MAX_KEY_LENGTH),
        )

    def _reason_region_hint(self):
        """What to set when numbers cannot be read: the company's country, if it has none."""
        if self.company_id._rebilling_region():
            return ""
        return self.env._(
            " (numbers in national form are read in the company's country: set the country of %s)",
            self.company_id.name,
        )
