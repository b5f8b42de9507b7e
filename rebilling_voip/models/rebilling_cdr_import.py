"""CDR file imports.

The file goes through PostgreSQL ``COPY`` into a temporary staging table, one
text line per row (the raw line is kept for the error list), and from there
through set-based SQL only: split, validate and type the columns, normalize the
distinct phone numbers once, write the bad rows to ``rebilling_cdr_error`` and
insert the good ones into ``rebilling_cdr``, skipping duplicates.

Duplicates (same supplier call id, or same caller, called number, start and
duration) are kept out by two unique indexes of ``rebilling_cdr``. The insert
first anti-joins the rows already stored around the file's time window and
inserts plainly (fast); should a unique index still object (a duplicate inside
the file, a call id reused long ago, a concurrent import), it falls back to
``INSERT ... ON CONFLICT DO NOTHING``.

Every row is accounted for, and counted independently: imported (rows inserted),
duplicates (valid rows that did not land), errors (rows in the error table).
Unless they add up to the rows of the file the import fails, in one transaction.
"""

import csv
import io
import logging
import time

import psycopg2
from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..tools import phone

_logger = logging.getLogger(__name__)

STATES = [("draft", "Draft"), ("done", "Done"), ("failed", "Failed")]
# Temporary tables of one import (dropped at the end, and on commit anyway).
STG = SQL.identifier("rebilling_voip_stg")
ROWS = SQL.identifier("rebilling_voip_rows")
NUMS = SQL.identifier("rebilling_voip_nums")
LANDED = SQL.identifier("rebilling_voip_landed")
DROP_TEMP = SQL(
    "DROP TABLE IF EXISTS rebilling_voip_stg, rebilling_voip_rows, rebilling_voip_nums, "
    "rebilling_voip_landed"
)
COPY_STG = (
    "COPY rebilling_voip_stg (line) FROM STDIN "
    "WITH (FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e', ENCODING 'UTF8')"
)
COPY_NUMS = "COPY rebilling_voip_nums (raw, e164) FROM STDIN WITH (FORMAT csv)"
# Searching stored CDRs for a reused call id: this far around the file's calls
# (beyond it the unique index still catches them, on the slower path).
CALL_ID_WINDOW = "2 days"


def _is_int(expr, lo, hi):
    """SQL: ``expr`` is lo to hi digits (no regular expressions: PostgreSQL's are slow)."""
    return SQL(
        "(length(%s) BETWEEN %s AND %s AND translate(%s, '0123456789', '') = '')",
        expr,
        lo,
        hi,
        expr,
    )


def _is_dec(expr, maxlen=12):
    """SQL: ``expr`` is an unsigned decimal number, digits with at most one dot."""
    return SQL(
        "(length(%(e)s) BETWEEN 1 AND %(n)s AND %(e)s <> '.' "
        "AND translate(%(e)s, '0123456789.', '') = '' "
        "AND length(%(e)s) - length(replace(%(e)s, '.', '')) <= 1)",
        e=expr,
        n=maxlen,
    )


def _days_in_month(y, mo):
    return SQL(
        "CASE WHEN %(mo)s IN (4, 6, 9, 11) THEN 30 WHEN %(mo)s = 2 THEN "
        "CASE WHEN (mod(%(y)s, 4) = 0 AND mod(%(y)s, 100) <> 0) OR mod(%(y)s, 400) = 0 "
        "THEN 29 ELSE 28 END ELSE 31 END",
        y=y,
        mo=mo,
    )


def _make_start(ok, y, mo, d, h, mi, sec, tz):
    """SQL of the start: NULL unless ``ok`` (text checks) and the values are in range.

    ``ok`` is tested first (CASE keeps the order): the casts in the values only
    run on text known to be digits.
    """
    ranges = SQL(
        "%(mo)s BETWEEN 1 AND 12 AND %(d)s BETWEEN 1 AND %(days)s AND %(h)s < 24 "
        "AND %(mi)s < 60 AND %(sec)s < 60",
        mo=mo,
        d=d,
        h=h,
        mi=mi,
        sec=sec,
        days=_days_in_month(y, mo),
    )
    local = SQL("make_timestamp(%s, %s, %s, %s, %s, %s::float8)", y, mo, d, h, mi, sec)
    if tz and tz != "UTC":
        local = SQL("((%s) AT TIME ZONE %s) AT TIME ZONE 'UTC'", local, tz)
    return SQL("CASE WHEN %s THEN CASE WHEN %s THEN %s END END", ok, ranges, local)


def _date_sql(date_format, tz):
    """([select list of each query level], SQL of the UTC start) from ``start_raw``.

    Each level is computed once per row and used by the next (no regular
    expressions: PostgreSQL's are slow). ISO dates are recognized by their shape
    (digits turned to 9s) and read at fixed positions; day-first and month-first
    dates are split on their separators.
    """
    raw = SQL.identifier("start_raw")
    if date_format == "epoch":
        start = SQL(
            "CASE WHEN %s THEN to_timestamp(floor(start_raw::numeric)::float8) "
            "AT TIME ZONE 'UTC' END",
            _is_dec(raw, 14),
        )
        return [], start
    if date_format == "iso":
        # Digits become 9s: a valid stamp has one of these shapes, then only text
        # comparisons at fixed positions (and PostgreSQL's own parser) are needed.
        shape = SQL("translate(start_raw, '0123456789', '9999999999') AS shape")
        ok = SQL(
            """
            CASE WHEN shape IN ('9999-99-99 99:99:99', '9999-99-99T99:99:99',
                                '9999-99-99 99:99:99Z', '9999-99-99T99:99:99Z',
                                '9999-99-99 99:99', '9999-99-99T99:99')
                      OR (substr(shape, 1, 20) IN ('9999-99-99 99:99:99.', '9999-99-99T99:99:99.')
                          AND length(shape) > 20
                          AND translate(substr(shape, 21), '9', '') IN ('', 'Z'))
                 THEN substr(start_raw, 1, 4) BETWEEN '1900' AND '2999'
                      AND substr(start_raw, 6, 2) BETWEEN '01' AND '12'
                      AND substr(start_raw, 9, 2) BETWEEN '01' AND '31'
                      AND substr(start_raw, 12, 2) <= '23'
                      AND substr(start_raw, 15, 2) <= '59'
                      AND (length(shape) < 19 OR substr(start_raw, 18, 2) <= '59')
                      AND (substr(start_raw, 9, 2) <= '28'
                           OR substr(start_raw, 9, 2)::int <= %s)
                 ELSE false END
            """,
            _days_in_month(
                SQL("substr(start_raw, 1, 4)::int"), SQL("substr(start_raw, 6, 2)::int")
            ),
        )
        local = SQL("left(start_raw, 19)::timestamp")
        if tz and tz != "UTC":
            local = SQL("((%s) AT TIME ZONE %s) AT TIME ZONE 'UTC'", local, tz)
        return [shape], SQL("CASE WHEN %s THEN %s END", ok, local)
    sep = "/"
    order = {"dmy": ("d", "mo", "y"), "mdy": ("mo", "d", "y")}[date_format]
    levels = [
        SQL("replace(rtrim(start_raw, 'Z'), 'T', ' ') AS stamp"),
        SQL(
            "split_part(stamp, ' ', 1) AS date_part, split_part(stamp, ' ', 2) AS time_part, "
            "split_part(stamp, ' ', 3) AS rest"
        ),
        SQL(", ").join(
            [
                SQL("split_part(date_part, %s, %s) AS %s", sep, i + 1, SQL.identifier(name))
                for i, name in enumerate(order)
            ]
            + [
                SQL("split_part(time_part, ':', %s) AS %s", i + 1, SQL.identifier(name))
                for i, name in enumerate(("h", "mi", "sec"))
            ]
            + [
                SQL(
                    "split_part(date_part, %s, 4) = '' AND split_part(time_part, ':', 4) = '' "
                    "AND rest = '' AS shape_ok",
                    sep,
                )
            ]
        ),
    ]
    ok = SQL(" AND ").join(
        [
            SQL("shape_ok"),
            _is_int(SQL("y"), 4, 4),
            _is_int(SQL("mo"), 1, 2),
            _is_int(SQL("d"), 1, 2),
            _is_int(SQL("h"), 1, 2),
            _is_int(SQL("mi"), 1, 2),
            SQL("(sec = '' OR %s)", _is_int(SQL("sec"), 1, 2)),
        ]
    )
    sec = SQL("CASE WHEN sec = '' THEN 0 ELSE sec::int END")
    start = _make_start(
        ok, SQL("y::int"), SQL("mo::int"), SQL("d::int"), SQL("h::int"), SQL("mi::int"), sec, tz
    )
    return levels, start


class RebillingCdrImport(models.Model):
    _name = "rebilling.cdr.import"
    _description = "CDR Import"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char("File Name", required=True, readonly=True)
    format_id = fields.Many2one(
        "rebilling.cdr.format", required=True, readonly=True, check_company=True
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    state = fields.Selection(STATES, default="draft", required=True, readonly=True, tracking=True)
    row_count = fields.Integer("Rows", readonly=True, help="Data lines of the file.")
    imported_count = fields.Integer("Imported", readonly=True)
    duplicate_count = fields.Integer(
        "Duplicates", readonly=True, help="Calls already recorded (or twice in the file): skipped."
    )
    error_count = fields.Integer("Errors", readonly=True, help="Rows waiting in the error list.")
    message = fields.Text(readonly=True)
    duration = fields.Float("Duration (s)", readonly=True, digits=(16, 2))
    date_first = fields.Datetime("First Call", readonly=True)
    date_last = fields.Datetime("Last Call", readonly=True)
    error_ids = fields.One2many("rebilling.cdr.error", "import_id", "Error Rows")
    cdr_count = fields.Integer("Calls", compute="_compute_cdr_count")

    _counts_add_up = models.Constraint(
        "CHECK (state != 'done' OR imported_count + duplicate_count + error_count = row_count)",
        "Every row of an import must be imported, a duplicate or an error.",
    )

    @api.ondelete(at_uninstall=False)
    def _rebilling_cdr_detach(self):
        self.env["rebilling.cdr"]._detach("import_id", self.ids)

    def _compute_cdr_count(self):
        for imp in self:
            imp.cdr_count = self.env["rebilling.cdr"].search_count([("import_id", "=", imp.id)])

    def action_view_cdrs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_voip.action_rebilling_cdr"
        )
        action["domain"] = [("import_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_view_errors(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_voip.action_rebilling_cdr_error"
        )
        action["domain"] = [("import_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_reimport_errors(self):
        self.ensure_one()
        errors = self.error_ids
        if not errors:
            raise UserError(self.env._("This import has no error rows left."))
        return errors.action_reimport()

    # ------------------------------------------------------------ API
    @api.model
    def _import_file(self, cdr_format, data, filename, raise_on_error=True):
        """Import the CSV ``data`` (bytes) in ``cdr_format``; returns the import record.

        For scheduled imports pass ``raise_on_error=False``: a file that cannot be
        imported then leaves a failed import with the reason, and nothing else.
        """
        cdr_format.ensure_one()
        vals = {
            "name": filename or "cdr.csv",
            "format_id": cdr_format.id,
            "company_id": cdr_format.company_id.id,
        }
        try:
            with self.env.cr.savepoint():
                imp = self.create(vals)
                imp._ingest_file(data)
                return imp
        except (UserError, psycopg2.Error, ValueError) as exc:
            if raise_on_error:
                raise
            message = exc.args[0] if isinstance(exc, UserError) else str(exc)
            _logger.warning("CDR import of %s failed: %s", vals["name"], message)
            return self.create(dict(vals, state="failed", message=message))

    # ------------------------------------------------------------ pipeline
    @api.model
    def _to_utf8(self, data):
        """The file as clean UTF-8 bytes: BOM, NULs, stray CRs and our COPY markers removed."""
        if isinstance(data, str):
            data = data.encode()
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            data = data.decode("cp1252", errors="replace").encode("utf-8")
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        for byte in (b"\x00", b"\x1e", b"\x1f"):
            if byte in data:
                data = data.replace(byte, b" ")
        return data

    def _stage_create(self):
        cr = self.env.cr
        cr.execute(DROP_TEMP)
        cr.execute(
            SQL("CREATE TEMP TABLE %s (lineno bigserial, line text, f text[]) ON COMMIT DROP", STG)
        )

    def _stage_drop(self):
        self.env.cr.execute(DROP_TEMP)

    def _ingest_file(self, data):
        """COPY the whole file into staging, then run the pipeline."""
        self.ensure_one()
        started = time.monotonic()
        data = self._to_utf8(data)
        lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        cr = self.env.cr
        self._stage_create()
        # One column per line: the quote and delimiter bytes cannot occur (removed above).
        cr.copy_expert(COPY_STG, io.BytesIO(data))
        cr.execute(SQL("SELECT count(*) FROM %s", STG))
        staged = cr.fetchone()[0]
        if staged != lines:
            raise UserError(
                self.env._(
                    "%(file)s: %(staged)s of its %(lines)s lines could be read; "
                    "nothing was imported.",
                    file=self.name,
                    staged=staged,
                    lines=lines,
                )
            )
        if self.format_id.has_header:
            cr.execute(SQL("DELETE FROM %s WHERE lineno = 1", STG))
        counts = self._run_pipeline()
        self._check_counts(counts)
        self.env["rebilling.cdr"]._analyze_if_grown(counts["imported"])
        self.write(
            {
                "state": "done",
                "row_count": counts["rows"],
                "imported_count": counts["imported"],
                "duplicate_count": counts["duplicates"],
                "error_count": counts["errors"],
                "date_first": counts["date_first"],
                "date_last": counts["date_last"],
                "duration": time.monotonic() - started,
                "message": False,
            }
        )
        self._stage_drop()
        _logger.info(
            "CDR import %s (%s): %s rows, %s imported, %s duplicates, %s errors in %.2fs",
            self.id,
            self.name,
            counts["rows"],
            counts["imported"],
            counts["duplicates"],
            counts["errors"],
            time.monotonic() - started,
        )
        return counts

    def _ingest_lines(self, numbered_lines):
        """Run the pipeline on ``[(line number, raw line)]`` (corrected error rows)."""
        self.ensure_one()
        self._stage_create()
        self.env.cr.execute_values(
            "INSERT INTO rebilling_voip_stg (lineno, line) VALUES %s",
            numbered_lines,
            page_size=1000,
        )
        return self._run_pipeline()

    def _check_counts(self, counts, expected_rows=None):
        rows = counts["rows"] if expected_rows is None else expected_rows
        total = counts["imported"] + counts["duplicates"] + counts["errors"]
        if total != rows:
            raise UserError(
                self.env._(
                    "%(file)s: %(rows)s rows but %(imported)s imported + %(dups)s duplicates + "
                    "%(errors)s errors = %(total)s. The import was cancelled; nothing was "
                    "imported.",
                    file=self.name,
                    rows=rows,
                    imported=counts["imported"],
                    dups=counts["duplicates"],
                    errors=counts["errors"],
                    total=total,
                )
            )

    def _split_quoted_lines(self):
        """Lines with quotes are split by Python's csv module (the fast path cannot)."""
        cr = self.env.cr
        cr.execute(SQL("SELECT lineno, line FROM %s WHERE strpos(line, '\"') > 0", STG))
        quoted = cr.fetchall()
        if not quoted:
            return
        delimiter = self.format_id._delimiter_char()
        values = []
        for lineno, line in quoted:
            try:
                values.append((lineno, next(csv.reader([line], delimiter=delimiter))))
            except (csv.Error, StopIteration):
                values.append((lineno, [line]))
        cr.execute_values(
            "UPDATE rebilling_voip_stg s SET f = v.f::text[] FROM (VALUES %s) AS v(lineno, f) "
            "WHERE s.lineno = v.lineno",
            values,
            page_size=1000,
        )

    def _run_pipeline(self):
        """Staged lines (``STG``) to CDRs and error rows; returns the counts.

        Each count comes from its own query: the rows parsed, the error rows
        written, the CDRs inserted, and the valid lines that did not land (the
        duplicates). Unless they add up, the caller cancels the import.
        """
        self.ensure_one()
        cr = self.env.cr
        company = self.company_id
        ncols = self.format_id.column_count
        self.env["rebilling.cdr"]._bulk_settings()
        self._split_quoted_lines()
        self._build_numbers(company._rebilling_region())
        self._build_rows()
        cr.execute(
            SQL(
                """
                SELECT count(*), min(start_ts) FILTER (WHERE reason IS NULL),
                       max(start_ts) FILTER (WHERE reason IS NULL)
                  FROM %s
                """,
                ROWS,
            )
        )
        rows, date_first, date_last = cr.fetchone()
        now = SQL("now() AT TIME ZONE 'UTC'")
        cr.execute(
            SQL(
                """
                INSERT INTO rebilling_cdr_error (
                    import_id, company_id, line_number, raw_line, reason, has_fields,
                    start_raw, duration_raw, caller_raw, called_raw, call_id_raw, cost_raw,
                    trunk_raw, create_uid, create_date, write_uid, write_date)
                SELECT %(imp)s, %(company)s, lineno, line, reason, ncols = %(ncols)s,
                       CASE WHEN ncols = %(ncols)s THEN start_raw END,
                       CASE WHEN ncols = %(ncols)s THEN duration_raw END,
                       CASE WHEN ncols = %(ncols)s THEN caller_raw END,
                       CASE WHEN ncols = %(ncols)s THEN called_raw END,
                       CASE WHEN ncols = %(ncols)s THEN call_id END,
                       CASE WHEN ncols = %(ncols)s THEN cost_raw END,
                       CASE WHEN ncols = %(ncols)s THEN trunk END,
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM %(rows)s
                 WHERE reason IS NOT NULL
                 ORDER BY lineno
                """,
                imp=self.id,
                company=company.id,
                ncols=ncols,
                uid=self.env.uid,
                now=now,
                rows=ROWS,
            )
        )
        errors = cr.rowcount
        cr.execute(SQL("CREATE TEMP TABLE %s (line bigint) ON COMMIT DROP", LANDED))
        imported = self._insert_cdrs(date_first, date_last) if date_first else 0
        cr.execute(
            SQL(
                """
                SELECT count(*) FROM (
                    SELECT lineno FROM %(rows)s WHERE reason IS NULL
                    EXCEPT
                    SELECT line FROM %(landed)s
                ) AS not_landed
                """,
                rows=ROWS,
                landed=LANDED,
            )
        )
        duplicates = cr.fetchone()[0]
        self.env["rebilling.cdr"]._bulk_settings(reset=True)
        self.env["rebilling.cdr"].invalidate_model()
        self.env["rebilling.cdr.error"].invalidate_model()
        return {
            "rows": rows,
            "imported": imported,
            "duplicates": duplicates,
            "errors": errors,
            "date_first": date_first,
            "date_last": date_last,
        }

    def _build_rows(self):
        """Split, trim and type the staged lines into ``ROWS`` with a ``reason`` per bad row."""
        fmt = self.format_id
        cols = fmt._columns()

        def col(name):
            if not cols[name]:
                return SQL("NULL::text")
            return SQL("NULLIF(btrim(f[%s]), '')", int(cols[name]))

        date_levels, start_expr = _date_sql(fmt.date_format, fmt.timezone)
        fields_sql = SQL(
            """
            SELECT s.lineno, s.line, cardinality(s.f) AS ncols,
                   %(c_start)s AS start_raw,
                   %(c_duration)s AS duration_raw,
                   COALESCE(%(c_caller)s, '') AS caller_raw,
                   %(c_called)s AS called_raw,
                   %(c_call_id)s AS call_id,
                   replace(%(c_cost)s, '$', '') AS cost_raw,
                   %(c_trunk)s AS trunk
              FROM (
                SELECT lineno, line, COALESCE(f, string_to_array(line, %(delim)s)) AS f
                  FROM %(stg)s
                 WHERE line IS NOT NULL AND btrim(line) <> ''
                OFFSET 0
              ) s
            """,
            stg=STG,
            delim=fmt._delimiter_char(),
            c_start=col("col_start"),
            c_duration=col("col_duration"),
            c_caller=col("col_caller"),
            c_called=col("col_called"),
            c_call_id=col("col_call_id"),
            c_cost=col("col_cost"),
            c_trunk=col("col_trunk"),
        )
        for level in date_levels:
            fields_sql = SQL("SELECT p.*, %s FROM (%s OFFSET 0) p", level, fields_sql)
        ncols = int(fmt.column_count)
        # A number: digits with at most a leading minus and one dot (one translate).
        cost_ok = SQL(
            """
            (cost_raw IS NULL
             OR (length(cost_raw) <= 16
                 AND CASE translate(cost_raw, '0123456789', '')
                         WHEN '' THEN true
                         WHEN '.' THEN cost_raw <> '.'
                         WHEN '-' THEN left(cost_raw, 1) = '-' AND cost_raw <> '-'
                         WHEN '-.' THEN left(cost_raw, 1) = '-' AND length(cost_raw) > 2
                         ELSE false END))
            """
        )
        self.env.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE %(rows)s ON COMMIT DROP AS
                SELECT t.*,
                       CASE WHEN t.cost_ok THEN COALESCE(t.cost_raw::numeric, 0) END AS cost,
                       nc.e164 AS caller_e164, nd.e164 AS called_e164,
                       CASE
                           WHEN t.ncols <> %(ncols)s
                               THEN %(bad_count)s || t.ncols || %(instead)s
                           WHEN t.start_raw IS NULL THEN %(no_start)s
                           WHEN t.start_ts IS NULL THEN %(bad_date)s || t.start_raw
                           WHEN t.duration_raw LIKE '-%%'
                               THEN %(negative)s || t.duration_raw
                           WHEN t.duration IS NULL
                               THEN %(bad_duration)s || COALESCE(t.duration_raw, '')
                           WHEN t.called_raw IS NULL THEN %(no_called)s
                           WHEN NOT t.cost_ok THEN %(bad_cost)s || t.cost_raw
                           WHEN t.caller_raw = '' AND t.trunk IS NULL THEN %(no_caller)s
                           WHEN nd.e164 IS NULL THEN %(bad_called)s || t.called_raw
                           WHEN t.caller_raw <> '' AND nc.e164 IS NULL
                               THEN %(bad_caller)s || t.caller_raw
                       END AS reason
                  FROM (
                    SELECT lineno, line, ncols, start_raw, duration_raw, caller_raw,
                           called_raw, call_id, cost_raw, trunk, %(start)s AS start_ts,
                           CASE WHEN length(duration_raw) <= 9
                                     AND translate(duration_raw, '0123456789', '') = ''
                                THEN duration_raw::int
                                WHEN %(duration_ok)s
                                THEN ceil(duration_raw::numeric)::int END AS duration,
                           %(cost_ok)s AS cost_ok
                      FROM (%(fields)s OFFSET 0) d
                    OFFSET 0
                  ) t
                  LEFT JOIN %(nums)s nc ON nc.raw = t.caller_raw
                  LEFT JOIN %(nums)s nd ON nd.raw = t.called_raw
                """,
                rows=ROWS,
                nums=NUMS,
                bad_called=self.env._("Unknown number format (called): "),
                bad_caller=self.env._("Unknown number format (caller): "),
                fields=fields_sql,
                ncols=ncols,
                start=start_expr,
                duration_ok=_is_dec(SQL.identifier("duration_raw")),
                cost_ok=cost_ok,
                bad_count=self.env._("Wrong column count: "),
                instead=self.env._(" instead of %s", ncols),
                no_start=self.env._("Missing start time"),
                bad_date=self.env._("Unparsable date: "),
                negative=self.env._("Negative duration: "),
                bad_duration=self.env._("Unparsable duration: "),
                no_called=self.env._("Missing called number"),
                bad_cost=self.env._("Unparsable cost: "),
                no_caller=self.env._("Missing caller and trunk"),
            )
        )

    def _build_numbers(self, region):
        """Normalize the distinct numbers of the file once: ``NUMS(raw, e164)``."""
        cr = self.env.cr
        fmt = self.format_id
        columns = [int(fmt.col_called)] + ([int(fmt.col_caller)] if fmt.col_caller else [])
        cr.execute(
            SQL(
                """
                SELECT DISTINCT num
                  FROM (
                    SELECT unnest(ARRAY[%(values)s]) AS num
                      FROM (
                        SELECT COALESCE(f, string_to_array(line, %(delim)s)) AS f
                          FROM %(stg)s
                         WHERE line IS NOT NULL
                      ) s
                  ) n
                 WHERE num <> ''
                """,
                values=SQL(", ").join(SQL("btrim(f[%s])", col) for col in columns),
                delim=fmt._delimiter_char(),
                stg=STG,
            )
        )
        raws = [row[0] for row in cr.fetchall()]
        normalized = phone.normalize_many(raws, region)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for raw, e164 in normalized.items():
            writer.writerow((raw, e164 or ""))
        buf.seek(0)
        cr.execute(SQL("CREATE TEMP TABLE %s (raw text, e164 text) ON COMMIT DROP", NUMS))
        cr.copy_expert(COPY_NUMS, buf)
        cr.execute(SQL("ANALYZE %s", NUMS))

    def _insert_cdrs(self, date_first, date_last):
        """Insert the valid rows that are not duplicates; returns how many landed.

        The line numbers of the inserted CDRs go to ``LANDED`` (``RETURNING``).
        """
        cr = self.env.cr
        company = self.company_id.id
        insert = SQL(
            """
            INSERT INTO rebilling_cdr (
                company_id, import_id, import_line, start_time, duration, caller, caller_e164,
                called, called_e164, trunk, supplier_call_id, cost, state)
            SELECT %s, %s, f.lineno, f.start_ts, f.duration, NULLIF(f.caller_raw, ''),
                   f.caller_e164, f.called_raw, f.called_e164, f.trunk, f.call_id, f.cost, 'new'
              FROM %s f
            """,
            company,
            self.id,
            ROWS,
        )
        try:
            with cr.savepoint(flush=False):
                cr.execute(
                    SQL(
                        """
                        WITH ins AS (
                            %(insert)s
                            LEFT JOIN (
                                SELECT start_time, COALESCE(caller_e164, '') AS caller,
                                       called_e164, duration
                                  FROM rebilling_cdr
                                 WHERE company_id = %(company)s
                                   AND start_time BETWEEN %(tmin)s AND %(tmax)s
                            ) k ON k.start_time = f.start_ts
                               AND k.caller = COALESCE(f.caller_e164, '')
                               AND k.called_e164 = f.called_e164 AND k.duration = f.duration
                            LEFT JOIN (
                                SELECT supplier_call_id
                                  FROM rebilling_cdr
                                 WHERE company_id = %(company)s
                                   AND supplier_call_id IS NOT NULL
                                   AND start_time
                                       BETWEEN %(tmin)s::timestamp - %(window)s::interval
                                           AND %(tmax)s::timestamp + %(window)s::interval
                            ) i ON i.supplier_call_id = f.call_id
                             WHERE f.reason IS NULL AND k.start_time IS NULL
                               AND i.supplier_call_id IS NULL
                            RETURNING import_line
                        )
                        INSERT INTO %(landed)s SELECT import_line FROM ins
                        """,
                        insert=insert,
                        company=company,
                        tmin=date_first,
                        tmax=date_last,
                        window=CALL_ID_WINDOW,
                        landed=LANDED,
                    ),
                    log_exceptions=False,
                )
                return cr.rowcount
        except pg_errors.UniqueViolation:
            _logger.info("CDR import %s: duplicates the window missed, exact path", self.id)
        cr.execute(
            SQL(
                """
                WITH ins AS (
                    %s WHERE f.reason IS NULL ORDER BY f.lineno ON CONFLICT DO NOTHING
                    RETURNING import_line
                )
                INSERT INTO %s SELECT import_line FROM ins
                """,
                insert,
                LANDED,
            )
        )
        return cr.rowcount
