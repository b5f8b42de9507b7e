"""CDR imports, the end of the pipeline: error rows, new CDRs, duplicates.

Duplicates (same supplier call id, or same caller, called number, start,
duration and call id or none) are kept out by two unique indexes of
``rebilling_cdr``. The insert first anti-joins the rows already stored around
the file's time window and inserts plainly (fast); should a unique index still
object (a duplicate inside the file, a call id reused long ago, a concurrent
import), it falls back to ``INSERT ... ON CONFLICT DO NOTHING``.
"""

import logging
from datetime import timedelta

from psycopg2 import errors as pg_errors

from odoo import models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Searching stored CDRs for a reused call id: this far around the file's calls
# (beyond it the unique index still catches them, on the slower path).
CALL_ID_WINDOW = "2 days"


class RebillingCdrImportInsert(models.Model):
    _inherit = "rebilling.cdr.import"  # pylint: disable=consider-merging-classes-inherited

    def _insert_errors(self, fields_sql):
        """Write the rows that cannot become CDRs to the error list; returns how many.

        The rows table has the typed values (``_valid_sql``); the text of the
        fields and the raw line come from the staged fields (``fields_sql``),
        joined on the line number for the bad rows only.
        """
        cr = self.env.cr
        ncols = self.format_id.column_count
        now = SQL("now() AT TIME ZONE 'UTC'")
        cr.execute(
            SQL(
                """
                INSERT INTO rebilling_cdr_error (
                    import_id, company_id, line_number, raw_line, reason, has_fields,
                    start_raw, duration_raw, caller_raw, called_raw, call_id_raw, cost_raw,
                    trunk_raw, create_uid, create_date, write_uid, write_date)
                SELECT %(imp)s, %(company)s, lineno, line, %(reason)s, ncols = %(ncols)s,
                       CASE WHEN ncols = %(ncols)s THEN start_raw END,
                       CASE WHEN ncols = %(ncols)s THEN duration_raw END,
                       CASE WHEN ncols = %(ncols)s THEN caller_raw END,
                       CASE WHEN ncols = %(ncols)s THEN called_raw END,
                       CASE WHEN ncols = %(ncols)s THEN call_id END,
                       CASE WHEN ncols = %(ncols)s THEN cost_raw END,
                       CASE WHEN ncols = %(ncols)s THEN trunk END,
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM (SELECT b.*, d.start_raw, d.duration_raw, d.cost_raw, d.line
                          FROM (SELECT * FROM %(rows)s WHERE NOT (%(valid)s) AND NOT skip) b
                          JOIN (%(fields)s) d ON d.lineno = b.lineno) r
                 ORDER BY lineno
                """,
                imp=self.id,
                company=self.company_id.id,
                ncols=ncols,
                reason=self._reason_sql(ncols),
                valid=self._valid_sql(),
                uid=self.env.uid,
                now=now,
                rows=self._work("rows"),
                fields=fields_sql,
            )
        )
        return cr.rowcount

    def _new_calls(self, date_first, date_last):
        """SQL condition on ``f`` (a row): no stored CDR has its call, nor its call id.

        Two ``NOT EXISTS`` (PostgreSQL turns each into an anti-join; an ``OR`` of
        ``EXISTS`` would run a subquery per row).

        The stored calls are searched around the file's time window; a call id
        reused further away is still caught by the unique index (slower path).
        """
        company = self.company_id.id
        same_call = SQL(
            """
            EXISTS (SELECT 1 FROM rebilling_cdr k
                     WHERE k.company_id = %(company)s
                       AND k.start_time BETWEEN %(tmin)s AND %(tmax)s
                       AND k.start_time = f.start_ts
                       AND COALESCE(k.caller_e164, '') = COALESCE(f.caller_e164, '')
                       AND k.called_e164 = f.called_e164 AND k.duration = f.duration
                       AND COALESCE(k.trunk, '') = COALESCE(f.trunk, '')
                       AND COALESCE(k.format_id, 0) = %(format)s
                       AND COALESCE(k.supplier_call_id, '') = COALESCE(f.call_id, ''))
            """,
            company=company,
            format=self.format_id.id,
            tmin=date_first,
            tmax=date_last,
        )
        same_id = SQL(
            """
            EXISTS (SELECT 1 FROM rebilling_cdr i
                     WHERE i.company_id = %(company)s AND i.supplier_call_id IS NOT NULL
                       AND COALESCE(i.format_id, 0) = %(format)s
                       AND i.start_time BETWEEN %(tmin)s::timestamp - %(window)s::interval
                                            AND %(tmax)s::timestamp + %(window)s::interval
                       AND i.supplier_call_id = f.call_id)
            """,
            company=company,
            format=self.format_id.id,
            tmin=date_first,
            tmax=date_last,
            window=CALL_ID_WINDOW,
        )
        return SQL("NOT %s AND NOT %s", same_call, same_id)

    def _stored_calls_around(self, date_first, date_last):
        """Whether the company has calls stored in the window ``_new_calls`` searches."""
        self.env.cr.execute(
            SQL(
                """
                SELECT EXISTS (
                    SELECT 1 FROM rebilling_cdr
                     WHERE company_id = %(company)s
                       AND start_time BETWEEN %(tmin)s::timestamp - %(window)s::interval
                                          AND %(tmax)s::timestamp + %(window)s::interval)
                """,
                company=self.company_id.id,
                tmin=date_first,
                tmax=date_last,
                window=CALL_ID_WINDOW,
            )
        )
        return self.env.cr.fetchone()[0]

    def _insert_cdrs(self, date_first, date_last, valid, rate=False):
        """Insert the ``valid`` rows that are not duplicates; returns (imported, duplicates).

        The insert anti-joins the stored calls (``_new_calls``; not when none is
        stored around the file's calls): a valid row that does not land matches a
        stored call, and is a duplicate. Should the unique
        indexes still object (a call twice in the file, a call id reused long
        ago, a concurrent import), the rows go in with ``ON CONFLICT DO NOTHING``
        and the duplicates are the valid rows not found among the inserted CDRs.

        ``rate``: the calls are inserted rated, as ``rebilling.cdr._rate`` would
        rate them (see ``_rated_insert_sql``), rather than inserted new and
        updated after: one write per call instead of two. Unless the rating of
        the company is free at once (billing or a rating running): then they
        are inserted new, for the next rating.
        """
        cr = self.env.cr
        Cdr = self.env["rebilling.cdr"]
        rows = self._work("rows")
        valid_sql = self._valid_sql()
        tables = None
        if rate and Cdr._try_lock_rating(self.company_id):
            tables = Cdr._rating_tables()
            Cdr._drop_rating_tables(tables)
            Cdr._build_rating_tables(
                self.company_id,
                tables,
                valid_sql,
                (date_first, date_last + timedelta(seconds=1)),
                source=SQL("%s t", rows),
            )
        new_calls = SQL("true")
        if self._stored_calls_around(date_first, date_last):
            new_calls = self._new_calls(date_first, date_last)
        try:
            try:
                with cr.savepoint(flush=False):
                    cr.execute(
                        self._insert_sql(SQL("%s AND %s", valid_sql, new_calls), tables),
                        log_exceptions=False,
                    )
                    return cr.rowcount, valid - cr.rowcount
            except pg_errors.UniqueViolation:
                _logger.info("CDR import %s: duplicates the window missed, exact path", self.id)
            cr.execute(self._insert_sql(valid_sql, tables, conflicts=True))
            imported = cr.rowcount
        finally:
            if tables:
                Cdr._drop_rating_tables(tables)
        cr.execute(
            SQL(
                """
                SELECT count(*) FROM %(rows)s f
                 WHERE %(valid)s AND NOT EXISTS (
                    SELECT 1 FROM rebilling_cdr c
                     WHERE c.import_id = %(imp)s AND c.import_line = f.lineno
                       AND c.start_time = f.start_ts)
                """,
                rows=rows,
                valid=valid_sql,
                imp=self.id,
            )
        )
        return imported, cr.fetchone()[0]

    def _insert_sql(self, where, tables=None, conflicts=False):
        """SQL inserting the rows ``f`` of the rows table matching ``where`` as CDRs.

        ``tables``: the rating lookups of these rows (``rebilling.cdr._rating_tables``):
        the calls are inserted rated. ``conflicts``: in file order, skipping the
        calls a unique index already has.
        """
        columns = [
            "company_id",
            "import_id",
            "format_id",
            "import_line",
            "start_time",
            "duration",
            "caller",
            "caller_e164",
            "called",
            "called_e164",
            "trunk",
            "supplier_call_id",
            "cost",
        ]
        values = [
            SQL("%s", self.company_id.id),
            SQL("%s", self.id),
            SQL("%s", self.format_id.id),
            SQL("t.lineno"),
            SQL("t.start_time"),
            SQL("t.duration"),
            SQL("NULLIF(t.caller_raw, '')"),
            SQL("t.caller_e164"),
            SQL("t.called_raw"),
            SQL("t.called_e164"),
            SQL("t.trunk"),
            SQL("t.call_id"),
            SQL("t.cost"),
        ]
        calls = SQL(
            "(SELECT f.*, f.start_ts AS start_time FROM %s f WHERE %s) t", self._work("rows"), where
        )
        joins = SQL()
        if tables:
            rated, joins = self._rated_insert_sql(tables)
            columns += [column for column, _expr in rated]
            values += [expr for _column, expr in rated]
        else:
            columns.append("state")
            values.append(SQL("'new'"))
        return SQL(
            "INSERT INTO rebilling_cdr (%s) SELECT %s FROM %s %s %s",
            SQL(", ").join(SQL.identifier(c) for c in columns),
            SQL(", ").join(values),
            calls,
            joins,
            SQL("ORDER BY t.lineno ON CONFLICT DO NOTHING") if conflicts else SQL(),
        )

    def _rated_insert_sql(self, tables):
        """``([(column, SQL)], SQL of the joins)``: the rating of a call ``t`` as it is inserted.

        The columns and join conditions of ``rebilling.cdr._rate``, its lookups
        outer-joined: a call the lookups would miss (none should: they cover
        every key of the rows and all time) is still inserted, new and unrated,
        never lost nor counted as a duplicate.
        """
        Cdr = self.env["rebilling.cdr"]
        parts = Cdr._rating_join_parts()
        joins = SQL(
            "LEFT JOIN %s s ON %s LEFT JOIN %s d ON %s LEFT JOIN %s r ON %s",
            tables["svc"],
            parts["s"],
            tables["dest"],
            parts["d"],
            tables["rates"],
            parts["r"],
        )
        found = SQL("r.plan_id IS NOT NULL AND d.num IS NOT NULL")
        rated = []
        for column, expr in Cdr._rating_columns():
            if column == "state":
                rated.append((column, SQL("CASE WHEN %s THEN %s ELSE 'new' END", found, expr)))
            else:
                rated.append((column, SQL("CASE WHEN %s THEN %s END", found, expr)))
        return rated, joins
