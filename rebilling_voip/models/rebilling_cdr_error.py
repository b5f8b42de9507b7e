import csv
import io

from odoo import fields, models
from odoo.addons.rebilling_base.tools import notify
from odoo.exceptions import UserError

# Error row field -> column of the format
FIELD_COLUMNS = {
    "start_raw": "col_start",
    "duration_raw": "col_duration",
    "caller_raw": "col_caller",
    "called_raw": "col_called",
    "call_id_raw": "col_call_id",
    "cost_raw": "col_cost",
    "trunk_raw": "col_trunk",
}


class RebillingCdrError(models.Model):
    """A line of a CDR file that could not be imported, to correct and re-import."""

    _name = "rebilling.cdr.error"
    _description = "CDR Import Error"
    _inherit = ["rebilling.company.mixin"]
    _order = "import_id desc, line_number, id"
    _rec_name = "line_number"
    _check_company_auto = True

    import_id = fields.Many2one(
        "rebilling.cdr.import", required=True, ondelete="cascade", index=True
    )
    format_id = fields.Many2one(related="import_id.format_id")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    line_number = fields.Integer("Line", readonly=True)
    raw_line = fields.Char(
        help="The line as read from the file; edit it when the columns are wrong."
    )
    reason = fields.Char(readonly=True)
    has_fields = fields.Boolean(
        readonly=True, help="The line had the right columns: correct the fields below."
    )
    start_raw = fields.Char("Start Time")
    duration_raw = fields.Char("Duration")
    caller_raw = fields.Char("Caller")
    called_raw = fields.Char("Called Number")
    call_id_raw = fields.Char("Call Id")
    cost_raw = fields.Char("Cost")
    trunk_raw = fields.Char("Trunk")

    def _corrected_values(self):
        """``{column (1-based): text}`` of the corrected fields, in the format's columns."""
        fmt = self.import_id.format_id
        values = {}
        for fname, col_field in FIELD_COLUMNS.items():
            if fname == "duration_raw" and fmt.duration_format == "times":
                col_field = "col_release"  # the duration is read from the release time
            col = fmt[col_field]
            if col:
                values[col] = self[fname] or ""
        if fmt.col_time and fmt.col_start:
            # The start is the date and time columns joined by a space.
            date, _sep, time = (self.start_raw or "").rpartition(" ")
            values[fmt.col_start], values[fmt.col_time] = (date, time) if date else (time, "")
        return values

    def _corrected_line(self):
        """The line to import again: the raw line with the corrected fields put back."""
        self.ensure_one()
        fmt = self.import_id.format_id
        delimiter = fmt._delimiter_char()
        if not self.has_fields:
            return self.raw_line or ""
        if fmt.delimiter == "fixed":
            positions = fmt._positions()
            width = max(first + length - 1 for first, length in positions)
            chars = list((self.raw_line or "").ljust(width))
            for col, text in self._corrected_values().items():
                first, length = positions[col - 1]
                chars[first - 1 : first - 1 + length] = text[:length].ljust(length)
            return "".join(chars).rstrip()
        try:
            parts = next(csv.reader([self.raw_line or ""], delimiter=delimiter))
        except (csv.Error, StopIteration):
            parts = []
        if len(parts) != fmt.column_count:
            parts = [""] * fmt.column_count
        for col, text in self._corrected_values().items():
            parts[col - 1] = text
        buf = io.StringIO()
        csv.writer(buf, delimiter=delimiter, lineterminator="").writerow(parts)
        return buf.getvalue()

    def action_reimport(self):
        """Import the corrected rows again into their import; they leave the error list.

        Rows still wrong come back with the new reason. The counters of the import
        move along, so its rows stay accounted for.
        """
        if not self:
            raise UserError(self.env._("Select the error rows to import again."))
        # Users correct rows, they do not delete them: the rows leave the list here only.
        self.check_access("write")
        totals = {"imported": 0, "duplicates": 0, "errors": 0, "skipped": 0}
        for imp, errors in self.grouped("import_id").items():
            if imp.state != "done":
                raise UserError(
                    self.env._("Rows of the failed import %s cannot be imported again.", imp.name)
                )
            lines = [(err.line_number, err._corrected_line()) for err in errors]
            count = len(errors)
            with self.env.cr.savepoint():
                errors.sudo().unlink()
                counts = imp._ingest_lines(lines)
                imp._check_counts(counts, expected_rows=count)
                imp.write(
                    {
                        "imported_count": imp.imported_count + counts["imported"],
                        "duplicate_count": imp.duplicate_count + counts["duplicates"],
                        "error_count": imp.error_count - count + counts["errors"],
                        "skipped_count": imp.skipped_count + counts["skipped"],
                    }
                )
                imp._stage_drop()
            imp.message_post(
                body=self.env._(
                    "%(n)s corrected rows imported again: %(imported)s imported, "
                    "%(dups)s duplicates, %(errors)s still in error.",
                    n=count,
                    imported=counts["imported"],
                    dups=counts["duplicates"],
                    errors=counts["errors"],
                )
            )
            for key in totals:
                totals[key] += counts[key]
        kind = "warning" if totals["errors"] else "success"
        message = self.env._(
            "%(imported)s imported, %(dups)s duplicates, %(errors)s still in error.",
            imported=totals["imported"],
            dups=totals["duplicates"],
            errors=totals["errors"],
        )
        return notify.notification(message, kind, next_action=notify.SOFT_RELOAD)
