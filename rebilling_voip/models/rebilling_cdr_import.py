"""CDR file imports.

The file goes through PostgreSQL ``COPY`` into a staging table and from there
through set-based SQL only: normalize the distinct phone numbers once, type and
validate the columns, write the bad rows to ``rebilling_cdr_error`` and insert
the good ones into ``rebilling_cdr``, skipping duplicates. The work tables are
UNLOGGED tables of the import's own (not temporary ones): PostgreSQL runs the
typing on all cores (parallel workers cannot read temporary tables).

Staging first tries PostgreSQL's own CSV reader: one text column per field of
the format (``COPY ... FORMAT csv``, the fields cut by COPY itself). A file it
cannot take as a whole (a line with another column count, a blank line, a
quoted line break) is staged again one text line per row, and the lines are cut
by SQL (Python's csv module for the quoted ones); on that path the raw line is
kept as it was for the error list, on the first one it is written back from the
fields.

Duplicates (same supplier call id, or same caller, called number, start,
duration and call id or none) are kept out by two unique indexes of ``rebilling_cdr``. The insert
first anti-joins the rows already stored around the file's time window and
inserts plainly (fast); should a unique index still object (a duplicate inside
the file, a call id reused long ago, a concurrent import), it falls back to
``INSERT ... ON CONFLICT DO NOTHING``.

Every row is accounted for, and counted independently: imported (rows inserted),
duplicates (valid rows matching a stored call, counted before the insert; on the
fallback path the valid rows that did not land), errors (rows in the error table).
Unless they add up to the rows of the file the import fails, in one transaction.
"""

import csv
import hashlib
import io
import logging
import time
from datetime import timedelta

import psycopg2
from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.addons.rebilling_base.tools.transient import raise_if_transient
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..tools import numbers

_logger = logging.getLogger(__name__)

STATES = [("draft", "Draft"), ("done", "Done"), ("failed", "Failed")]
# Work tables of one import, suffixed with its id: UNLOGGED tables rather than
# temporary ones, so that PostgreSQL's parallel workers can read them (the split
# and typing of a large file runs on every core). Created and dropped in the
# import's transaction: a rolled-back import leaves none behind.
WORK_TABLES = ("csv", "stg", "nums", "numsnew", "fields", "rows")
# Searching stored CDRs for a reused call id: this far around the file's calls
# (beyond it the unique index still catches them, on the slower path).
CALL_ID_WINDOW = "2 days"
# Longest call id and trunk of a call: both are in unique indexes of rebilling_cdr
# (PostgreSQL refuses index rows over about 2,700 bytes). Longer ones are errors.
MAX_KEY_LENGTH = 255
# Line numbers of a staged file come from an identity sequence: values taken this
# many at a time (one backend, so still consecutive) rather than one sequence
# access per line, a third of the cost of COPY into staging.
LINENO_CACHE = 100_000


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


def _date_sql(date_format, tz, fast=False, raw="start_raw", prefix=""):
    """([select list of each query level], SQL of the UTC start) from ``start_raw``.

    ``raw``: another column in the same format (answer, release times), its
    level columns named with ``prefix``.

    Each level is computed once per row and used by the next (no regular
    expressions: PostgreSQL's are slow). ISO dates are recognized by their shape
    (digits turned to 9s) and read at fixed positions; day-first and month-first
    dates are split on their separators.

    ``fast`` (ISO): dates of the usual shape ``YYYY-MM-DD HH:MM:SS`` skip the
    digit check (``translate``, the costliest part of the typing): PostgreSQL
    reads them, and they count only if PostgreSQL writes the same text back (so
    not a 24th hour or a 60th second, which it would carry over). A letter or a
    30 February makes PostgreSQL's parser raise: the caller types again without
    ``fast``.
    """
    raw_id = SQL.identifier(raw)

    def sql(text, *args):
        # ``raw`` is one of our column names (never user input).
        return SQL(text.replace("{raw}", raw), *args)

    if date_format == "epoch":
        start = sql(
            "CASE WHEN %s THEN to_timestamp(floor({raw}::numeric)::float8) AT TIME ZONE 'UTC' END",
            _is_dec(raw_id, 14),
        )
        return [], start
    if date_format == "iso":
        # The shape is computed once (the operand of a simple CASE), then only text
        # comparisons at fixed positions and PostgreSQL's own parser are needed.
        ok = sql(
            """
            CASE WHEN CASE translate({raw}, '0123456789', '9999999999')
                 WHEN '9999-99-99 99:99:99' THEN true WHEN '9999-99-99T99:99:99' THEN true
                 WHEN '9999-99-99 99:99:99Z' THEN true WHEN '9999-99-99T99:99:99Z' THEN true
                 WHEN '9999-99-99 99:99' THEN true WHEN '9999-99-99T99:99' THEN true
                 ELSE translate(substr({raw}, 1, 20), '0123456789', '9999999999')
                          IN ('9999-99-99 99:99:99.', '9999-99-99T99:99:99.')
                      AND length({raw}) > 20
                      AND translate(substr({raw}, 21), '0123456789', '') IN ('', 'Z')
                 END
            THEN substr({raw}, 1, 4) BETWEEN '1900' AND '2999'
                 AND substr({raw}, 6, 2) BETWEEN '01' AND '12'
                 AND substr({raw}, 9, 2) BETWEEN '01' AND '31'
                 AND substr({raw}, 12, 2) <= '23'
                 AND substr({raw}, 15, 2) <= '59'
                 AND (length({raw}) < 19 OR substr({raw}, 18, 2) <= '59')
                 AND (substr({raw}, 9, 2) <= '28' OR substr({raw}, 9, 2)::int <= %s)
            ELSE false END
            """,
            _days_in_month(sql("substr({raw}, 1, 4)::int"), sql("substr({raw}, 6, 2)::int")),
        )
        local = sql("left({raw}, 19)::timestamp")
        if tz and tz != "UTC":
            local = SQL("((%s) AT TIME ZONE %s) AT TIME ZONE 'UTC'", local, tz)
        start = SQL("CASE WHEN %s THEN %s END", ok, local)
        if fast:
            usual = sql(
                "{raw} LIKE '____-__-__ __:__:__' AND {raw} >= '1900' "
                "AND {raw} < '3' AND {raw}::timestamp::text = {raw}"
            )
            read = sql("{raw}::timestamp")
            if tz and tz != "UTC":
                read = SQL("((%s) AT TIME ZONE %s) AT TIME ZONE 'UTC'", read, tz)
            start = SQL("CASE WHEN %s THEN %s ELSE %s END", usual, read, start)
        return [], start

    def col(name):
        return SQL.identifier(prefix + name)

    if date_format == "compact":
        # yyyymmddhhmmss, optionally .fff: digits at fixed positions.
        ok = sql(
            "(length({raw}) = 14 OR (length({raw}) BETWEEN 16 AND 20 "
            "AND substr({raw}, 15, 1) = '.')) "
            "AND translate(left({raw}, 14) || substr({raw}, 16), '0123456789', '') = '' "
            "AND left({raw}, 4) BETWEEN '1900' AND '2999'"
        )

        def part(first, length):
            return sql("substr({raw}, %s, %s)::int", first, length)

        start = _make_start(
            ok, part(1, 4), part(5, 2), part(7, 2), part(9, 2), part(11, 2), part(13, 2), tz
        )
        return [], start
    sep = "/"
    order = {"dmy": ("d", "mo", "y"), "mdy": ("mo", "d", "y"), "ymd": ("y", "mo", "d")}[date_format]
    levels = [
        SQL("replace(rtrim(%s, 'Z'), 'T', ' ') AS %s", raw_id, col("stamp")),
        SQL(
            "split_part(%(stamp)s, ' ', 1) AS %(date)s, split_part(%(stamp)s, ' ', 2) AS %(time)s, "
            "split_part(%(stamp)s, ' ', 3) AS %(rest)s",
            stamp=col("stamp"),
            date=col("date_part"),
            time=col("time_part"),
            rest=col("rest"),
        ),
        SQL(", ").join(
            [
                SQL("split_part(%s, %s, %s) AS %s", col("date_part"), sep, i + 1, col(name))
                for i, name in enumerate(order)
            ]
            + [
                SQL("split_part(%s, ':', %s) AS %s", col("time_part"), i + 1, col(name))
                for i, name in enumerate(("h", "mi", "sec"))
            ]
            + [
                SQL(
                    "split_part(%(date)s, %(sep)s, 4) = '' "
                    "AND split_part(%(time)s, ':', 4) = '' AND %(rest)s = '' AS %(ok)s",
                    date=col("date_part"),
                    time=col("time_part"),
                    rest=col("rest"),
                    sep=sep,
                    ok=col("shape_ok"),
                )
            ]
        ),
    ]
    ok = SQL(" AND ").join(
        [
            col("shape_ok"),
            _is_int(col("y"), 4, 4),
            _is_int(col("mo"), 1, 2),
            _is_int(col("d"), 1, 2),
            _is_int(col("h"), 1, 2),
            _is_int(col("mi"), 1, 2),
            SQL("(%s = '' OR %s)", col("sec"), _is_int(col("sec"), 1, 2)),
        ]
    )
    sec = SQL("CASE WHEN %s = '' THEN 0 ELSE %s::int END", col("sec"), col("sec"))

    def num(name):
        return SQL("%s::int", col(name))

    start = _make_start(ok, num("y"), num("mo"), num("d"), num("h"), num("mi"), sec, tz)
    return levels, start


class RebillingCdrImport(models.Model):
    _name = "rebilling.cdr.import"
    _description = "CDR Import"
    _inherit = ["mail.thread", "rebilling.company.mixin"]
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
    skipped_count = fields.Integer(
        "Skipped",
        readonly=True,
        help="Rows the format's filters leave out (direction, disposition, minimum seconds, "
        "calls to an extension): not calls to bill, not errors.",
    )
    trunk = fields.Char(
        "Trunk of Every Call",
        readonly=True,
        help="Given at the upload: the trunk of the calls without one (instead of the format's).",
    )
    checksum = fields.Char(
        readonly=True, index=True, help="SHA-256 of the file: the same file is imported once."
    )
    message = fields.Text(readonly=True)
    duration = fields.Float("Duration (s)", readonly=True, digits=(16, 2))
    date_first = fields.Datetime("First Call", readonly=True)
    date_last = fields.Datetime("Last Call", readonly=True)
    error_ids = fields.One2many("rebilling.cdr.error", "import_id", "Error Rows")
    cdr_count = fields.Integer("Calls", compute="_compute_cdr_count")

    _counts_add_up = models.Constraint(
        "CHECK (state != 'done' OR imported_count + duplicate_count + error_count "
        "+ COALESCE(skipped_count, 0) = row_count)",
        "Every row of an import must be imported, a duplicate, skipped or an error.",
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
    def _import_file(self, cdr_format, data, filename, raise_on_error=True, rate=False, trunk=None):
        """Import the CSV ``data`` (bytes) in ``cdr_format``; returns the import record.

        For scheduled imports pass ``raise_on_error=False``: a file that cannot be
        imported then leaves a failed import with the reason, and nothing else.
        ``rate``: the new calls are rated as they are inserted (see ``_insert_cdrs``).
        ``trunk``: the trunk of the calls without one (else the format's).

        A file whose content was already imported in this format (``checksum``)
        is not read again: the import says so and adds nothing.
        """
        cdr_format.ensure_one()
        if isinstance(data, str):
            data = data.encode()
        checksum = hashlib.sha256(data).hexdigest()
        vals = {
            "name": filename or "cdr.csv",
            "format_id": cdr_format.id,
            "company_id": cdr_format.company_id.id,
            "trunk": (trunk or "").strip() or False,
            "checksum": checksum,
        }
        same = self._same_file(cdr_format, checksum, vals["trunk"])
        if same:
            vals.update(
                state="done",
                message=self.env._(
                    "Same content as %(file)s, imported on %(date)s: nothing imported again.",
                    file=same.name,
                    date=same.create_date,
                ),
            )
            return self.create(vals)
        try:
            with self.env.cr.savepoint():
                imp = self.create(vals)
                imp._ingest_file(data, rate=rate)
                return imp
        except (UserError, psycopg2.Error, ValueError) as exc:
            # A lock or serialization failure is not the file's error: retried as a whole.
            raise_if_transient(exc)
            if raise_on_error:
                raise
            message = exc.args[0] if isinstance(exc, UserError) else str(exc)
            _logger.warning("CDR import of %s failed: %s", vals["name"], message)
            return self._create_failed(cdr_format, filename, message)

    @api.model
    def _same_file(self, cdr_format, checksum, trunk):
        """The done import of ``cdr_format`` with this file content (and upload trunk), if any.

        Extend for another notion of the same file.
        """
        return self.sudo().search(
            [
                ("format_id", "=", cdr_format.id),
                ("checksum", "=", checksum),
                ("trunk", "=", trunk),
                ("state", "=", "done"),
                ("row_count", ">", 0),
            ],
            order="id",
            limit=1,
        )

    @api.model
    def _create_failed(self, cdr_format, filename, message):
        """A failed import of ``filename`` in ``cdr_format``, with the reason."""
        return self.create(
            {
                "name": filename or "cdr.csv",
                "format_id": cdr_format.id,
                "company_id": cdr_format.company_id.id,
                "state": "failed",
                "message": message,
            }
        )

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
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        for byte in (b"\x00", b"\x1e", b"\x1f"):
            if byte in data:
                data = data.replace(byte, b" ")
        return data

    def _work(self, name):
        """SQL identifier of the work table ``name`` (see ``WORK_TABLES``) of this import."""
        return SQL.identifier(f"rebilling_voip_{name}_{self.id}")

    def _stage_create(self):
        self.env.cr.execute(
            SQL(
                "CREATE UNLOGGED TABLE %s (lineno bigint GENERATED BY DEFAULT AS IDENTITY "
                "(CACHE %s), line text, f text[])",
                self._work("stg"),
                LINENO_CACHE,
            )
        )

    def _stage_drop(self):
        self.env.cr.execute(
            SQL("DROP TABLE IF EXISTS %s", SQL(", ").join(self._work(n) for n in WORK_TABLES))
        )

    def _ingest_file(self, data, rate=False):
        """COPY the whole file into staging, then run the pipeline (``rate``: ``_import_file``)."""
        self.ensure_one()
        started = time.monotonic()
        data = self._to_utf8(data)
        lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        self._stage_drop()
        if self._stage_csv(data, lines):
            counts = self._run_pipeline(copied=True, rate=rate, trim=self._may_need_trimming(data))
        else:
            self._stage_lines(data, lines)
            counts = self._run_pipeline(rate=rate)
        self._check_counts(counts)
        self.env["rebilling.cdr"]._analyze_if_grown(counts["imported"])
        self.write(
            {
                "state": "done",
                "row_count": counts["rows"],
                "imported_count": counts["imported"],
                "duplicate_count": counts["duplicates"],
                "error_count": counts["errors"],
                "skipped_count": counts["skipped"],
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

    def _stage_csv(self, data, lines):
        """COPY the file with PostgreSQL's CSV reader, a text column per field.

        Returns False, leaving nothing behind, when COPY cannot take the file as
        a whole or reads another number of rows than the file has data lines
        (a quoted line break): the caller stages it line by line instead.
        """
        fmt = self.format_id
        header = 1 if fmt.has_header else 0
        if lines - header < 1 or fmt.delimiter == "fixed":
            return False
        cr = self.env.cr
        table = self._work("csv")
        columns = SQL(", ").join(
            SQL("%s text", SQL.identifier(f"c{i}")) for i in range(1, fmt.column_count + 1)
        )
        try:
            with cr.savepoint(flush=False):
                # Line numbers of the file: the first data line is 1, or 2 after a header.
                cr.execute(
                    SQL(
                        "CREATE UNLOGGED TABLE %s (lineno bigint GENERATED ALWAYS AS IDENTITY "
                        "(START WITH %s CACHE %s), line text, %s)",
                        table,
                        header + 1,
                        LINENO_CACHE,
                        columns,
                    )
                )
                copy = SQL(
                    "COPY %s (%s) FROM STDIN WITH (FORMAT csv, DELIMITER %s, HEADER %s, "
                    "ENCODING 'UTF8')",
                    table,
                    SQL(", ").join(SQL.identifier(f"c{i}") for i in range(1, fmt.column_count + 1)),
                    fmt._delimiter_char(),
                    bool(header),
                )
                # COPY takes no parameters: the values are quoted into the statement.
                cr.copy_expert(cr.mogrify(copy.code, copy.params).decode(), io.BytesIO(data))
                # COPY reports the rows it read (no count(*) scan of the table).
                if cr.rowcount != lines - header:
                    raise ValueError("quoted line break")
        except (psycopg2.DataError, ValueError) as exc:
            _logger.info("CDR import %s: staged line by line (%s)", self.id, exc)
            return False
        return True

    def _stage_lines(self, data, lines):
        """COPY the file one text line per row (see ``_stage_csv``)."""
        cr = self.env.cr
        self._stage_create()
        # One column per line: the quote and delimiter bytes cannot occur (removed above).
        stg = self._work("stg")
        cr.copy_expert(
            SQL(
                "COPY %s (line) FROM STDIN "
                "WITH (FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e', ENCODING 'UTF8')",
                stg,
            ).code,
            io.BytesIO(data),
        )
        staged = cr.rowcount
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
            cr.execute(SQL("DELETE FROM %s WHERE lineno = 1", stg))

    def _ingest_lines(self, numbered_lines):
        """Run the pipeline on ``[(line number, raw line)]`` (corrected error rows)."""
        self.ensure_one()
        self._stage_drop()
        self._stage_create()
        self.env.cr.execute_values(
            f'INSERT INTO "rebilling_voip_stg_{int(self.id)}" (lineno, line) VALUES %s',
            numbered_lines,
            page_size=1000,
        )
        return self._run_pipeline()

    def _check_counts(self, counts, expected_rows=None):
        rows = counts["rows"] if expected_rows is None else expected_rows
        total = counts["imported"] + counts["duplicates"] + counts["errors"] + counts["skipped"]
        if total != rows:
            raise UserError(
                self.env._(
                    "%(file)s: %(rows)s rows but %(imported)s imported + %(dups)s duplicates + "
                    "%(skipped)s skipped + %(errors)s errors = %(total)s. The import was "
                    "cancelled; nothing was imported.",
                    file=self.name,
                    rows=rows,
                    imported=counts["imported"],
                    dups=counts["duplicates"],
                    skipped=counts["skipped"],
                    errors=counts["errors"],
                    total=total,
                )
            )

    def _split_quoted_lines(self):
        """Lines with quotes are split by Python's csv module (the fast path cannot)."""
        cr = self.env.cr
        stg = self._work("stg")
        cr.execute(SQL("SELECT lineno, line FROM %s WHERE strpos(line, '\"') > 0", stg))
        quoted = cr.fetchall()
        if not quoted or self.format_id.delimiter == "fixed":
            return
        delimiter = self.format_id._delimiter_char()
        values = []
        for lineno, line in quoted:
            try:
                values.append((lineno, next(csv.reader([line], delimiter=delimiter))))
            except (csv.Error, StopIteration):
                values.append((lineno, [line]))
        # The table name is ours (an integer suffix); execute_values needs plain text.
        cr.execute_values(
            f'UPDATE "rebilling_voip_stg_{int(self.id)}" s SET f = v.f::text[] '
            "FROM (VALUES %s) AS v(lineno, f) WHERE s.lineno = v.lineno",
            values,
            page_size=1000,
        )

    def _field(self, column):
        """SQL of column ``column`` (1-based) of a staged line, trimmed, NULL when empty.

        Plain lines are cut with ``split_part`` (cheaper than building an array);
        lines with quotes come split by ``_split_quoted_lines`` (``f``).
        """
        if not column:
            return SQL("NULL::text")
        fmt = self.format_id
        if fmt.delimiter == "fixed":
            first, length = fmt._positions()[column - 1]
            return SQL("NULLIF(btrim(substr(s.line, %s, %s)), '')", first, length)
        return SQL(
            "NULLIF(btrim(CASE WHEN s.f IS NULL THEN split_part(s.line, %s, %s) "
            "ELSE s.f[%s] END), '')",
            self.format_id._delimiter_char(),
            int(column),
            int(column),
        )

    def _run_pipeline(self, copied=False, rate=False, trim=True):
        """Staged rows to CDRs and error rows; returns the counts.

        ``copied``: the fields were staged by ``_stage_csv``, else the lines by
        ``_stage_lines`` (or ``_ingest_lines``); ``rate``: see ``_insert_cdrs``;
        ``trim``: some copied field may need trimming (``_may_need_trimming``). The
        counts come from separate queries: the rows typed and the valid ones, the
        error rows written (only looked for when some row is not valid), the CDRs
        inserted; the duplicates are the valid rows that did not land (see
        ``_insert_cdrs``).
        Unless they add up, the caller cancels the import.
        """
        self.ensure_one()
        cr = self.env.cr
        company = self.company_id
        self.env["rebilling.cdr"]._bulk_settings()
        if copied:
            if trim:
                self._trim_copied_fields()
            fields_sql = self._copied_fields_sql()
        else:
            self._split_quoted_lines()
            self._build_fields()
            fields_sql = SQL("SELECT * FROM %s", self._work("fields"))
        self._build_numbers(company._rebilling_region(), fields_sql)
        flags = self._flag_numbers()
        self._build_rows(fields_sql, flags)
        # Grouped by validity: the condition is computed once per row.
        cr.execute(
            SQL(
                "SELECT %s, skip, count(*), min(start_ts), max(start_ts) FROM %s GROUP BY 1, 2",
                self._valid_sql(),
                self._work("rows"),
            )
        )
        total = valid = skipped = 0
        date_first = date_last = None
        for is_valid, is_skipped, count, first, last in cr.fetchall():
            total += count
            if is_skipped:
                skipped += count
            if is_valid:
                valid, date_first, date_last = count, first, last
        # Most files have no bad row: no scan for them then.
        errors = self._insert_errors(fields_sql) if valid + skipped != total else 0
        imported = duplicates = 0
        if valid:
            imported, duplicates = self._insert_cdrs(date_first, date_last, valid, rate)
        self.env["rebilling.cdr"]._bulk_settings(reset=True)
        self.env["rebilling.cdr"].invalidate_model()
        self.env["rebilling.cdr.error"].invalidate_model()
        return {
            "rows": total,
            "imported": imported,
            "duplicates": duplicates,
            "errors": errors,
            "skipped": skipped,
            "date_first": date_first,
            "date_last": date_last,
        }

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

    def _has_filters(self):
        """Whether the format's filters can skip rows (``_skip_sql``)."""
        fmt = self.format_id
        return bool(
            (fmt.col_direction and fmt._list_values("direction_values"))
            or (fmt.col_disposition and fmt._list_values("disposition_values"))
            or fmt.min_seconds > 0
            or fmt.extension_digits
        )

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

    def _copied_columns(self):
        """``{mapping field: SQL column}`` of the table staged by ``_stage_csv``."""
        return {
            name: SQL.identifier(f"c{int(col)}")
            for name, col in self.format_id._columns().items()
            if col
        }

    @api.model
    def _may_need_trimming(self, data):
        """Whether a field of the CSV ``data`` (bytes) may need ``_trim_copied_fields``.

        A field starting or ending with a space has one next to a delimiter, a
        quote or a line break (or at either end of the file); an empty quoted
        field is two quotes; a cost may have a dollar sign. Without any of them
        (most files) no field needs it, and the table is not scanned: a few
        searches of the bytes cost less than a test of every field of every row.
        A quote or delimiter inside a quoted field may say yes wrongly: the scan
        then finds nothing to trim.
        """
        fmt = self.format_id
        delim = fmt._delimiter_char().encode()
        start = data.find(b"\n") + 1 if fmt.has_header else 0
        end = len(data)
        while end and data[end - 1] == ord("\n"):
            end -= 1
        if data[start : start + 1] == b" " or data[end - 1 : end] == b" ":
            return True
        if fmt.col_cost and data.find(b"$", start) >= 0:
            return True
        if data.find(b'""', start) >= 0:
            return True
        # Line breaks and quotes count as delimiters: two searches instead of six.
        ends = data.translate(bytes.maketrans(b'\n"', delim * 2))
        return ends.find(delim + b" ", start) >= 0 or ends.find(b" " + delim, start) >= 0

    def _trim_copied_fields(self):
        """Trim the fields staged by ``_stage_csv`` in place, on the rows that need it.

        Usually none do (and ``_may_need_trimming`` spares the scan): the rows
        are looked for first (a read runs on every core, an UPDATE on one). The
        rows trimmed keep their line as it was, for the error list (``line``).
        Trimmed in place so that the typing reads the columns as they are: an
        expression in ``_copied_fields_sql`` would be computed again at each of
        its many uses in the typing.
        """
        used = self._copied_columns()
        table = self._work("csv")
        cleaned = {name: SQL("NULLIF(btrim(%s), '')", column) for name, column in used.items()}
        if "col_cost" in used:
            cleaned["col_cost"] = SQL("replace(%s, '$', '')", cleaned["col_cost"])
        # Without btrim: it would copy every field to compare (LIKE only reads).
        unclean = SQL(" OR ").join(
            SQL("%(c)s LIKE ' %%' OR %(c)s LIKE '%% ' OR %(c)s = ''", c=column)
            for column in used.values()
        )
        if "col_cost" in used:
            unclean = SQL("%s OR strpos(%s, '$') > 0", unclean, used["col_cost"])
        cr = self.env.cr
        cr.execute(SQL("SELECT count(*) FROM %s WHERE %s", table, unclean))
        if cr.fetchone()[0]:
            cr.execute(
                SQL(
                    "UPDATE %s SET line = %s, %s WHERE %s",
                    table,
                    self._csv_line_sql(),
                    SQL(", ").join(
                        SQL("%s = %s", used[name], expr) for name, expr in cleaned.items()
                    ),
                    unclean,
                )
            )

    def _copied_fields_sql(self):
        """SQL of the fields staged by ``_stage_csv`` (trimmed), as ``_build_fields`` has them."""
        used = self._copied_columns()
        table = self._work("csv")

        def field(name):
            return used.get(name, SQL("NULL::text"))

        return SQL(
            "SELECT lineno, COALESCE(line, %(line)s) AS line, %(ncols)s AS ncols, %(select)s "
            "FROM %(csv)s",
            ncols=self.format_id.column_count,
            line=self._csv_line_sql(),
            csv=table,
            select=self._fields_select(field, field("col_caller"), field("col_cost")),
        )

    def _csv_line_sql(self):
        """SQL of a row staged by ``_stage_csv`` written back as a CSV line.

        A field is quoted when it holds the delimiter or a quote, so that the line
        reads back to the same fields.
        """
        fmt = self.format_id
        delim = fmt._delimiter_char()
        fields = [
            SQL(
                "CASE WHEN strpos(%(c)s, %(d)s) > 0 OR strpos(%(c)s, '\"') > 0 "
                "THEN '\"' || replace(%(c)s, '\"', '\"\"') || '\"' ELSE %(c)s END",
                c=SQL.identifier(f"c{i}"),
                d=delim,
            )
            for i in range(1, fmt.column_count + 1)
        ]
        return SQL("array_to_string(ARRAY[%s], %s, '')", SQL(", ").join(fields), delim)

    def _build_fields(self):
        """Cut the staged lines into the fields table (text, each field cut once).

        The typing (``_build_rows``) refers to each field many times: a flat
        query over the lines would cut them again every time.
        """
        fmt = self.format_id
        cols = fmt._columns()
        if fmt.delimiter == "fixed":
            # A line reaching into the last column has all of them.
            last = max(first for first, _length in fmt._positions())
            ncols = SQL(
                "CASE WHEN length(rtrim(s.line)) >= %s THEN %s ELSE 1 END", last, fmt.column_count
            )
        else:
            ncols = SQL(
                "CASE WHEN s.f IS NULL "
                "THEN length(s.line) - length(replace(s.line, %(delim)s, '')) + 1 "
                "ELSE cardinality(s.f) END",
                delim=fmt._delimiter_char(),
            )

        def field(name):
            return self._field(cols[name])

        self.env.cr.execute(
            SQL(
                """
            CREATE UNLOGGED TABLE %(fields)s AS
            SELECT s.lineno, s.line, %(ncols)s AS ncols, %(select)s
              FROM %(stg)s s
             WHERE s.line IS NOT NULL AND btrim(s.line) <> ''
            """,
                fields=self._work("fields"),
                stg=self._work("stg"),
                ncols=ncols,
                select=self._fields_select(
                    field, field("col_caller"), SQL("replace(%s, '$', '')", field("col_cost"))
                ),
            )
        )

    def _fields_select(self, field, caller, cost):
        """Select list of the text fields of a staged row, as the typing reads them.

        ``field(mapping field)``: SQL of the column's text (NULL when empty or none);
        ``caller`` and ``cost``: SQL of the caller and cost, cleaned by the caller
        of this method. The date and time columns make one start; a call without
        trunk gets the upload's or format's trunk.
        """
        fmt = self.format_id
        start = field("col_start")
        if fmt.col_time:
            start = SQL("%s || ' ' || %s", start, field("col_time"))
        trunk = field("col_trunk")
        fixed = self._fixed_trunk()
        if fixed:
            trunk = SQL("COALESCE(%s, %s)", trunk, fixed)
        duration = field("col_duration")
        if fmt.duration_format == "times":
            duration = field("col_release")
        return SQL(
            """
            %(start)s AS start_raw, %(duration)s AS duration_raw,
            COALESCE(%(caller)s, '') AS caller_raw, %(called)s AS called_raw,
            %(call_id)s AS call_id, %(cost)s AS cost_raw, %(trunk)s AS trunk,
            %(answer)s AS answer_raw, %(release)s AS release_raw,
            %(direction)s AS direction_raw, %(disposition)s AS disposition_raw
            """,
            start=start,
            duration=duration,
            caller=caller,
            called=field("col_called"),
            call_id=field("col_call_id"),
            cost=cost,
            trunk=trunk,
            answer=field("col_answer") if fmt.col_answer else start,
            release=field("col_release"),
            direction=field("col_direction"),
            disposition=field("col_disposition"),
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
        cr.execute(
            SQL(
                "ALTER TABLE %s %s",
                nums,
                SQL(", ").join(
                    SQL("ADD COLUMN %s %s", column, kind)
                    for column, (kind, _expr) in zip(columns, marks.values(), strict=True)
                ),
            )
        )
        cr.execute(
            SQL(
                "UPDATE %s SET %s",
                nums,
                SQL(", ").join(
                    SQL("%s = %s", column, expr)
                    for column, (_kind, expr) in zip(columns, marks.values(), strict=True)
                ),
            )
        )
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
        """The query of ``_build_rows``; ``fast``: see ``_date_sql``.

        Each expression is built for the format and the file: what it does not
        use (a date layout, a duration layout, a filter, a mark of
        ``_flag_numbers``) is not in the query at all.
        """
        fmt = self.format_id
        date_levels, start_expr = _date_sql(fmt.date_format, fmt.timezone, fast=fast)
        if fmt.duration_format == "times":
            levels, release = _date_sql(
                fmt.date_format, fmt.timezone, raw="release_raw", prefix="r_"
            )
            date_levels += levels
            answer = start_expr
            if fmt.col_answer:
                levels, answer = _date_sql(
                    fmt.date_format, fmt.timezone, raw="answer_raw", prefix="a_"
                )
                date_levels += levels
        # Plain subqueries: PostgreSQL folds them into one level.
        for level in date_levels:
            fields_sql = SQL("SELECT p.*, %s FROM (%s) p", level, fields_sql)
        if fmt.duration_format == "times":
            # Not answered (no answer time): 0 s.
            duration = SQL(
                """CASE WHEN d.answer_raw IS NULL THEN CASE WHEN %(release)s IS NOT NULL THEN 0 END
                        ELSE GREATEST(0, ceil(extract(epoch FROM %(release)s - %(answer)s)))::int
                   END""",
                release=release,
                answer=answer,
            )
        elif fmt.duration_format == "hms":
            part = [SQL("split_part(d.duration_raw, ':', %s)", i) for i in (1, 2, 3, 4)]
            duration = SQL(
                """CASE WHEN length(d.duration_raw) <= 12 AND %(p2)s <> '' AND %(p4)s = ''
                            AND translate(d.duration_raw, '0123456789:', '') = ''
                            AND %(p1)s <> '' AND right(d.duration_raw, 1) <> ':'
                            AND strpos(d.duration_raw, '::') = 0
                        THEN CASE WHEN %(p3)s = '' THEN %(p1)s::int * 60 + %(p2)s::int
                                  ELSE %(p1)s::int * 3600 + %(p2)s::int * 60 + %(p3)s::int END
                   END""",
                p1=part[0],
                p2=part[1],
                p3=part[2],
                p4=part[3],
            )
        else:
            duration = SQL(
                """CASE WHEN length(d.duration_raw) <= 9
                             AND translate(d.duration_raw, '0123456789', '') = ''
                        THEN d.duration_raw::int
                        WHEN %s THEN ceil(d.duration_raw::numeric)::int END""",
                _is_dec(SQL.identifier("duration_raw")),
            )
        caller_raw, caller_e164 = SQL("d.caller_raw"), SQL("nc.e164")
        if "blank" in marks:
            caller_raw = SQL("CASE WHEN nc.blank THEN '' ELSE d.caller_raw END")
            caller_e164 = SQL("CASE WHEN nc.blank THEN NULL ELSE nc.e164 END")
        called = SQL("nd.e164")
        if "local_digits" in marks:
            called = numbers.local_dialling_sql(
                self.company_id._rebilling_region(), SQL("nd.local_digits"), caller_e164, called
            )
        cost = SQL("0::numeric")
        if fmt.col_cost:
            # A number: digits with at most a leading minus and one dot (one translate).
            cost = SQL(
                """
                CASE WHEN d.cost_raw IS NULL THEN 0::numeric
                     WHEN length(d.cost_raw) <= 16
                          AND CASE translate(d.cost_raw, '0123456789', '')
                                  WHEN '' THEN true
                                  WHEN '.' THEN d.cost_raw <> '.'
                                  WHEN '-' THEN left(d.cost_raw, 1) = '-' AND d.cost_raw <> '-'
                                  WHEN '-.' THEN left(d.cost_raw, 1) = '-'
                                                 AND length(d.cost_raw) > 2
                                  ELSE false END
                     THEN d.cost_raw::numeric END
                """
            )
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
