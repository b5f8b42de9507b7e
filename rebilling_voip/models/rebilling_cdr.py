"""Call detail records: the calls of every import, rated and billed.

The table is written in bulk only (the import's INSERT, the rating's UPDATE):
no foreign keys on the columns they write (see ``init``), free room in every
page for the rating's in-place updates. Rating is in
``rebilling_cdr_rating`` (its lookup tables in ``rebilling_cdr_rating_lookup``),
the usage billed on invoices in ``rebilling_cdr_usage``.
"""

import logging

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools.relational import Many2oneNoForeignKey

_logger = logging.getLogger(__name__)

STATES = [
    ("new", "New"),
    ("rated", "Rated"),
    ("unmatched", "Unmatched"),
    ("error", "Error"),
    ("invoiced", "Invoiced"),
]
# An import of at least this many calls (and a tenth of the table) analyzes it.
ANALYZE_MIN_ROWS = 50_000
# Statistics target of that ANALYZE (PostgreSQL samples 300 rows per unit);
# autovacuum analyzes again later with the server's default.
ANALYZE_TARGET = 10
# Percent of each page filled on insert; rating updates use the rest. A rated row
# is about 30% longer than a new one (service, customer, group, rate, billed
# seconds, price, margin): at 40% every page has room for the rated version of
# each of its rows, so that one rating pass updates them all in place.
FILLFACTOR = 40
# Many2one columns written for every CDR by the import and the rating: no FK.
NO_FOREIGN_KEYS = (
    "company_id",
    "import_id",
    "service_id",
    "partner_id",
    "destination_group_id",
    "rate_id",
    "invoice_id",
    "format_id",
)


class RebillingCdr(models.Model):
    _name = "rebilling.cdr"
    _description = "Call Detail Record"
    _inherit = ["rebilling.company.mixin"]
    _order = "start_time desc, id desc"
    _log_access = False
    _check_company_auto = True
    _rec_names_search = ["caller_e164", "called_e164", "caller", "called", "supplier_call_id"]

    start_time = fields.Datetime("Start", required=True, readonly=True, help="Stored in UTC.")
    duration = fields.Integer("Duration (s)", required=True, readonly=True)
    caller = fields.Char(readonly=True, help="The calling number as the supplier sent it.")
    caller_e164 = fields.Char("Caller (E.164)", readonly=True)
    called = fields.Char("Called Number", required=True, readonly=True)
    called_e164 = fields.Char("Called (E.164)", required=True, readonly=True)
    trunk = fields.Char(readonly=True, help="Trunk identifier of the supplier, when given.")
    supplier_call_id = fields.Char("Supplier Call Id", readonly=True)
    # The Many2one columns written for every CDR have no database foreign key
    # (see ``init``): NO_FOREIGN_KEYS.
    company_id = Many2oneNoForeignKey("res.company", required=True, readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    service_id = Many2oneNoForeignKey("rebilling.service", readonly=True)
    partner_id = Many2oneNoForeignKey("res.partner", "Customer", readonly=True)
    destination_group_id = Many2oneNoForeignKey(
        "rebilling.destination.group", "Destination", readonly=True
    )
    rate_id = Many2oneNoForeignKey("rebilling.rate", readonly=True)
    review_calls = fields.Boolean(
        related="destination_group_id.review_calls", string="To Review (Destination)"
    )
    cost = fields.Float("Wholesale Cost", digits=(16, 4), readonly=True)
    price = fields.Float("Rated Price", digits=(16, 4), readonly=True)
    margin = fields.Float(digits=(16, 4), readonly=True)
    billed_seconds = fields.Integer("Billed (s)", readonly=True)
    state = fields.Selection(STATES, default="new", required=True, readonly=True)
    rating_note = fields.Char(readonly=True)
    invoice_id = Many2oneNoForeignKey(
        "account.move", readonly=True, index="btree_not_null", ondelete="set null"
    )
    import_id = Many2oneNoForeignKey("rebilling.cdr.import", readonly=True)
    format_id = Many2oneNoForeignKey(
        "rebilling.cdr.format",
        "Supplier Format",
        readonly=True,
        help="The supplier's CDR format the call came in: call ids and duplicates are per "
        "supplier.",
    )
    import_line = fields.Integer("File Line", readonly=True)

    # Duplicates never land twice (imports skip them); these indexes also serve
    # the period scans of rating and billing (company, start_time, ...). Both are
    # per supplier (format): two suppliers may number their calls alike; the trunk
    # is part of a call (two trunks may call the same number in the same second).
    # The supplier call id is part of a call too: two calls alike under two call
    # ids are two calls (e.g. at the repeated hour when daylight saving ends).
    _dedup_uniq = models.UniqueIndex(
        "(company_id, start_time, COALESCE(caller_e164, ''), called_e164, duration, "
        "COALESCE(trunk, ''), COALESCE(format_id, 0), COALESCE(supplier_call_id, ''))",
        "This call (caller, trunk, called number, start and duration) is already recorded.",
    )
    _call_id_uniq = models.UniqueIndex(
        "(company_id, COALESCE(format_id, 0), supplier_call_id) WHERE supplier_call_id IS NOT NULL",
        "A call with this supplier call id is already recorded.",
    )

    def init(self):
        """Free space in the pages for in-place rating updates; no foreign keys.

        A foreign key costs PostgreSQL a lookup and a row lock per row and column
        written (about 12 µs here): on a million CDRs, ten times the insert or
        rating itself. The references are kept consistent by ``ondelete`` hooks
        on the referenced models instead (``_rebilling_cdr_detach``).
        """
        cr = self.env.cr
        cr.execute(SQL("SELECT reloptions FROM pg_class WHERE relname = %s", self._table))
        options = (cr.fetchone() or [None])[0] or []
        if f"fillfactor={FILLFACTOR}" not in options:
            cr.execute(
                SQL(
                    "ALTER TABLE %s SET (fillfactor = %s)",
                    SQL.identifier(self._table),
                    SQL(str(int(FILLFACTOR))),
                )
            )
        # The fields create none (Many2oneNoForeignKey); a database from before has some.
        cr.execute(
            SQL(
                """
                SELECT con.conname
                  FROM pg_constraint con
                  JOIN pg_attribute att
                    ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
                 WHERE con.conrelid = %s::regclass AND con.contype = 'f'
                   AND att.attname = ANY(%s)
                """,
                self._table,
                list(NO_FOREIGN_KEYS),
            )
        )
        for (name,) in cr.fetchall():
            cr.execute(
                SQL(
                    "ALTER TABLE %s DROP CONSTRAINT %s",
                    SQL.identifier(self._table),
                    SQL.identifier(name),
                )
            )

    @api.depends("start_time", "caller_e164", "trunk", "called_e164")
    def _compute_display_name(self):
        for cdr in self:
            source = cdr.caller_e164 or cdr.trunk or ""
            cdr.display_name = f"{cdr.start_time or ''} {source} → {cdr.called_e164 or ''}"

    # ------------------------------------------------------------ bulk statements
    @api.model
    def _bulk_settings(self, reset=False):
        """Session settings of the set-based statements over many CDRs.

        More memory for hashes and sorts; hash joins rather than nested loops (right
        after a large import the table statistics are stale and the planner would
        otherwise nest loops over a million rows); no JIT compilation, which costs
        about a second per statement here and gains nothing on these simple
        expressions; parallel plans chosen more readily (the work tables of an
        import are built by every core). Set for the transaction, reset when the
        statements are done.
        """
        if reset:
            self.env.cr.execute(
                SQL(
                    "RESET work_mem; RESET enable_nestloop; RESET jit; "
                    "RESET parallel_setup_cost; RESET parallel_tuple_cost"
                )
            )
        else:
            self.env.cr.execute(
                SQL(
                    "SET LOCAL work_mem = '128MB'; SET LOCAL enable_nestloop = off; "
                    "SET LOCAL jit = off; SET LOCAL parallel_setup_cost = 100; "
                    "SET LOCAL parallel_tuple_cost = 0.01"
                )
            )

    @api.model
    def _analyze_if_grown(self, added):
        """Refresh the table statistics after a large import (rating plans use them).

        Autovacuum would, a minute later; the rating that usually follows an
        import should not be planned for an empty table. Only the columns the
        rating and billing select calls by (``_analyzed_columns``): half the time
        of a whole ``ANALYZE`` after a million calls; autovacuum does the rest.
        """
        cr = self.env.cr
        cr.execute(SQL("SELECT reltuples FROM pg_class WHERE relname = %s", self._table))
        known = max((cr.fetchone() or [0])[0], 0)
        if added >= ANALYZE_MIN_ROWS and added > known * 0.1:
            # A small sample: enough for the row counts and the plans of the rating
            # (a tenth of the time of the default on a million calls).
            cr.execute(SQL("SET LOCAL default_statistics_target = %s", ANALYZE_TARGET))
            cr.execute(
                SQL(
                    "ANALYZE %s (%s)",
                    SQL.identifier(self._table),
                    SQL(", ").join(SQL.identifier(c) for c in self._analyzed_columns()),
                )
            )
            cr.execute(SQL("RESET default_statistics_target"))

    @api.model
    def _analyzed_columns(self):
        """Columns analyzed after a large import. Extend for another column a plan needs."""
        return ["company_id", "state", "start_time", "format_id"]

    # ------------------------------------------------------------ references without foreign keys
    @api.model
    def _detach(self, column, ids):
        """What ``ON DELETE SET NULL`` would do when referenced records are deleted.

        Calls of a deleted service, customer, destination group or rate lose the
        link and, unless invoiced, go back to new to be rated again (unmatched or
        in error then); calls of a deleted invoice become billable again.
        """
        if not ids:
            return 0
        if column == "invoice_id":
            return self._unlink_invoices(self.env["account.move"].browse(ids))
        if column not in NO_FOREIGN_KEYS or column == "company_id":
            raise ValueError(column)
        self.flush_model()
        ident = SQL.identifier(column)
        reset = SQL("state = CASE WHEN state = 'invoiced' THEN state ELSE 'new' END")
        if column in ("import_id", "format_id"):
            reset = SQL("state = state")
        self.env.cr.execute(
            SQL(
                "UPDATE rebilling_cdr SET %s = NULL, %s WHERE %s = ANY(%s)",
                ident,
                reset,
                ident,
                list(ids),
            )
        )
        self.invalidate_model()
        return self.env.cr.rowcount

    @api.model
    def _repoint(self, column, old_ids, new_id):
        """What a merge does to a foreign key: the calls of ``old_ids`` now reference ``new_id``."""
        if not old_ids:
            return 0
        if column not in NO_FOREIGN_KEYS or column == "company_id":
            raise ValueError(column)
        self.flush_model([column])
        ident = SQL.identifier(column)
        self.env.cr.execute(
            SQL(
                "UPDATE rebilling_cdr SET %s = %s WHERE %s = ANY(%s)",
                ident,
                new_id,
                ident,
                list(old_ids),
            )
        )
        self.invalidate_model([column])
        return self.env.cr.rowcount
