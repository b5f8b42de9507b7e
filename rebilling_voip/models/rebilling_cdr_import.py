"""CDR file imports: the import record, its API and the pipeline.

The file goes through PostgreSQL ``COPY`` into a staging table and from there
through set-based SQL only: normalize the distinct phone numbers once, type and
validate the columns, write the bad rows to ``rebilling_cdr_error`` and insert
the good ones into ``rebilling_cdr``, skipping duplicates. The work tables are
UNLOGGED tables of the import's own (not temporary ones): PostgreSQL runs the
typing on all cores (parallel workers cannot read temporary tables).

Every row is accounted for, and counted independently: imported (rows inserted),
duplicates (valid rows matching a stored call, counted before the insert; on the
fallback path the valid rows that did not land), errors (rows in the error table).
Unless they add up to the rows of the file the import fails, in one transaction.

The steps are extensions of the model, one concern a file:
``rebilling_cdr_import_staging`` (the file into the work tables),
``rebilling_cdr_import_typing`` (numbers, typed rows, validity),
``rebilling_cdr_import_filters`` (the format's filters: rows skipped, callers
that are no number) and ``rebilling_cdr_import_insert`` (error rows, CDRs,
duplicates); the SQL reading dates, durations and costs is ``tools.cdr_parsing``.
"""

import hashlib
import logging
import time

import psycopg2

from odoo import api, fields, models
from odoo.addons.rebilling_base.tools.transient import raise_if_transient
from odoo.exceptions import UserError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

STATES = [("draft", "Draft"), ("done", "Done"), ("failed", "Failed")]
# Work tables of one import, suffixed with its id: UNLOGGED tables rather than
# temporary ones, so that PostgreSQL's parallel workers can read them (the split
# and typing of a large file runs on every core). Created and dropped in the
# import's transaction: a rolled-back import leaves none behind.
WORK_TABLES = ("csv", "stg", "nums", "numsnew", "fields", "rows")
# Longest call id and trunk of a call: both are in unique indexes of rebilling_cdr
# (PostgreSQL refuses index rows over about 2,700 bytes). Longer ones are errors.
MAX_KEY_LENGTH = 255


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
    def _work(self, name):
        """SQL identifier of the work table ``name`` (see ``WORK_TABLES``) of this import."""
        return SQL.identifier(f"rebilling_voip_{name}_{self.id}")

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
