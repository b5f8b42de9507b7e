"""CDR file formats: how a supplier's files look (layout, columns, filters)."""

from odoo import api, fields, models
from odoo.addons.base.models.res_partner import _tz_get
from odoo.exceptions import ValidationError

DELIMITERS = [
    ("comma", "Comma (,)"),
    ("semicolon", "Semicolon (;)"),
    ("tab", "Tab"),
    ("pipe", "Pipe (|)"),
    ("fixed", "Fixed width (column positions)"),
]
# A fixed-width file has no delimiter: its lines are cut at the column positions
# (the staging reads whole lines; this character never occurs in them).
DELIMITER_CHARS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "fixed": "\x1f"}
DATE_FORMATS = [
    ("iso", "2026-10-31 23:59:59 (ISO, T and Z allowed)"),
    ("dmy", "31/10/2026 23:59:59 (day first)"),
    ("mdy", "10/31/2026 23:59:59 (month first)"),
    ("ymd", "2026/10/31 23:59:59 (year first with /)"),
    ("compact", "20261031235959[.123] (compact)"),
    ("epoch", "Unix timestamp (seconds)"),
]
DURATION_FORMATS = [
    ("seconds", "Seconds (decimals rounded up)"),
    ("hms", "hh:mm:ss (or mm:ss)"),
    ("times", "Answer and release times (no duration column)"),
]
NUMBER_STYLES = [
    ("national", "As dialled (0…, 0011…, +…; 61… for Australian numbers)"),
    ("intl", "International numbers as E.164 without + (44…, 61…)"),
]
# Column fields of a format: (field name, label, required)
COLUMNS = [
    ("col_start", "Start time", True),
    ("col_duration", "Duration", True),
    ("col_caller", "Caller", False),
    ("col_called", "Called number", True),
    ("col_call_id", "Supplier call id", False),
    ("col_cost", "Wholesale cost", False),
    ("col_trunk", "Trunk", False),
    ("col_time", "Start time of day", False),
    ("col_answer", "Answer time", False),
    ("col_release", "Release time", False),
    ("col_direction", "Direction", False),
    ("col_disposition", "Disposition", False),
]
WITHHELD_CALLERS = "anonymous,withheld,private,restricted,unavailable,unknown"


class RebillingCdrFormat(models.Model):
    """How a supplier's CDR files look: delimiter, header, columns, date format."""

    _name = "rebilling.cdr.format"
    _description = "CDR File Format"
    _inherit = ["mail.thread", "rebilling.company.mixin"]
    _order = "name, id"
    _check_company_auto = True

    name = fields.Char("Supplier Format", required=True, tracking=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    delimiter = fields.Selection(DELIMITERS, required=True, default="comma", tracking=True)
    has_header = fields.Boolean("First Line Is a Header", default=True, tracking=True)
    column_count = fields.Integer(
        "Columns", required=True, default=6, tracking=True, help="Columns of every data line."
    )
    col_start = fields.Integer("Start Time Column", default=1, tracking=True)
    col_duration = fields.Integer("Duration Column", default=2, tracking=True)
    col_caller = fields.Integer("Caller Column", default=3, tracking=True)
    col_called = fields.Integer("Called Number Column", default=4, tracking=True)
    col_call_id = fields.Integer("Call Id Column", default=5, tracking=True)
    col_cost = fields.Integer("Cost Column", default=6, tracking=True)
    col_trunk = fields.Integer("Trunk Column", default=0, tracking=True)
    col_time = fields.Integer(
        "Time Column",
        default=0,
        tracking=True,
        help="When the date and the time of day are two columns: the time's (0: none).",
    )
    col_answer = fields.Integer("Answer Time Column", default=0, tracking=True)
    col_release = fields.Integer("Release Time Column", default=0, tracking=True)
    col_direction = fields.Integer("Direction Column", default=0, tracking=True)
    col_disposition = fields.Integer("Disposition Column", default=0, tracking=True)
    field_positions = fields.Char(
        "Column Positions",
        tracking=True,
        help="Fixed-width files: the first and last character of each column, in order, "
        "e.g. 1-14,15-20,21-40 (1 is the first character of the line).",
    )
    date_format = fields.Selection(DATE_FORMATS, required=True, default="iso", tracking=True)
    duration_format = fields.Selection(
        DURATION_FORMATS,
        required=True,
        default="seconds",
        tracking=True,
        help="Answer and release times: the duration is the release time minus the answer "
        "time (0 when the call was not answered), both in the date format of the file.",
    )
    number_style = fields.Selection(
        NUMBER_STYLES,
        "Numbers Written",
        required=True,
        default="national",
        tracking=True,
    )
    partner_id = fields.Many2one(
        "res.partner",
        "Customer of Every Call",
        tracking=True,
        check_company=True,
        help="Files of one customer (their PBX): the trunk of the calls without one is the "
        "first identifier of the customer's voice service. The upload can give another "
        "customer or trunk.",
    )
    fixed_trunk = fields.Char(
        "Trunk of Every Call",
        tracking=True,
        help="The trunk (a service identifier) of the calls of files without a trunk column "
        "or with an empty one, e.g. the PBX of one customer. The upload can give another.",
    )
    withheld_callers = fields.Char(
        "Withheld Caller Values",
        default=WITHHELD_CALLERS,
        help="Caller values (comma-separated, any case) meaning the number was withheld: such "
        "calls are matched by their trunk.",
    )
    extension_digits = fields.Integer(
        "Extension Length",
        default=0,
        tracking=True,
        help="PBX files: numbers of up to this many digits (after an optional 'Ext.') are "
        "extensions. A call to an extension is internal (skipped); a caller extension is "
        "matched by the trunk. 0: no extensions.",
    )
    direction_values = fields.Char(
        "Directions Billed",
        tracking=True,
        help="Comma-separated values of the direction column to import (any case), e.g. "
        "Outbound. Other rows are skipped and counted.",
    )
    disposition_values = fields.Char(
        "Dispositions Billed",
        tracking=True,
        help="Comma-separated values of the disposition column to import (any case), e.g. "
        "ANSWERED. Other rows are skipped and counted.",
    )
    min_seconds = fields.Integer(
        "Minimum Billable Seconds",
        default=0,
        tracking=True,
        help="Calls shorter than this (e.g. 1: unanswered calls of 0 s) are skipped and counted.",
    )
    timezone = fields.Selection(
        _tz_get,
        "Time Zone of the File",
        required=True,
        default="UTC",
        help="Start times are read in this zone and stored in UTC.",
    )
    import_ids = fields.One2many("rebilling.cdr.import", "format_id", "Imports")
    import_count = fields.Integer("Number of Imports", compute="_compute_import_count")

    _columns_positive = models.Constraint(
        "CHECK (column_count > 0)", "A CDR file has at least one column."
    )

    @api.ondelete(at_uninstall=False)
    def _rebilling_cdr_detach(self):
        self.env["rebilling.cdr"]._detach("format_id", self.ids)

    @api.depends("import_ids")
    def _compute_import_count(self):
        groups = dict(
            self.env["rebilling.cdr.import"]._read_group(
                [("format_id", "in", self.ids)], ["format_id"], ["__count"]
            )
        )
        for fmt in self:
            fmt.import_count = groups.get(fmt, 0)

    @api.constrains(
        "column_count", "delimiter", "field_positions", "duration_format", *[c[0] for c in COLUMNS]
    )
    def _check_columns(self):
        for fmt in self:
            used = {}
            if fmt.delimiter == "fixed":
                fmt._positions()
            for fname, label, required in COLUMNS:
                col = fmt[fname]
                if fname == "col_duration" and fmt.duration_format == "times":
                    required = False
                if fname == "col_release" and fmt.duration_format == "times":
                    required = True
                if required and col < 1:
                    raise ValidationError(
                        self.env._(
                            "%(format)s: choose the column of %(col)s.", format=fmt.name, col=label
                        )
                    )
                if col < 0 or col > fmt.column_count:
                    raise ValidationError(
                        self.env._(
                            "%(format)s: the %(col)s column must be between 1 and %(n)s "
                            "(0 when the file has none).",
                            format=fmt.name,
                            col=label,
                            n=fmt.column_count,
                        )
                    )
                if col and col in used:
                    raise ValidationError(
                        self.env._(
                            "%(format)s: %(a)s and %(b)s cannot both be column %(n)s.",
                            format=fmt.name,
                            a=used[col],
                            b=label,
                            n=col,
                        )
                    )
                if col:
                    used[col] = label

    @api.onchange("partner_id")
    def _onchange_partner_id(self):
        """The trunk of the customer's voice service (see ``_fixed_trunk``)."""
        if self.partner_id:
            self.fixed_trunk = self.partner_id._rebilling_voice_trunk(
                self.company_id or self.env.company
            )

    @api.constrains("partner_id", "fixed_trunk")
    def _check_partner_trunk(self):
        for fmt in self:
            if fmt.partner_id and not fmt._fixed_trunk():
                raise ValidationError(
                    self.env._(
                        "%(format)s: %(partner)s has no voice service with an identifier "
                        "to give the trunk of every call.",
                        format=fmt.name,
                        partner=fmt.partner_id.display_name,
                    )
                )

    def _positions(self):
        """``[(first character, length)]`` of each column of a fixed-width file."""
        self.ensure_one()
        positions = []
        for part in (self.field_positions or "").replace(" ", "").split(","):
            first, _sep, last = part.partition("-")
            if not (first.isdigit() and last.isdigit() and 0 < int(first) <= int(last)):
                raise ValidationError(
                    self.env._(
                        "%(format)s: column positions are first-last character pairs, "
                        "e.g. 1-14,15-20 (not %(part)r).",
                        format=self.name,
                        part=part,
                    )
                )
            positions.append((int(first), int(last) - int(first) + 1))
        if len(positions) != self.column_count:
            raise ValidationError(
                self.env._(
                    "%(format)s: %(n)s column positions for %(cols)s columns.",
                    format=self.name,
                    n=len(positions),
                    cols=self.column_count,
                )
            )
        return positions

    def _list_values(self, fname):
        """The lower-case values of the comma-separated field ``fname``."""
        self.ensure_one()
        return [v.strip().lower() for v in (self[fname] or "").split(",") if v.strip()]

    def _fixed_trunk(self):
        """The trunk of the calls of this format without one (``False``: none).

        The trunk given on the format, else its customer's voice trunk (read at
        each import: a format created without the form's onchange still has it).
        """
        self.ensure_one()
        trunk = (self.fixed_trunk or "").strip()
        if not trunk and self.partner_id:
            trunk = self.partner_id._rebilling_voice_trunk(self.company_id)
        return trunk or False

    def _delimiter_char(self):
        self.ensure_one()
        return DELIMITER_CHARS[self.delimiter]

    def _columns(self):
        """``{field: 1-based column or 0}`` of the mapping."""
        self.ensure_one()
        return {fname: self[fname] for fname, _label, _req in COLUMNS}

    def action_view_imports(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_voip.action_rebilling_cdr_import"
        )
        action["domain"] = [("format_id", "=", self.id)]
        return action

    def action_import_file(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_voip.action_rebilling_cdr_import_wizard"
        )
        action["context"] = {"default_format_id": self.id}
        return action
