"""Call detail records and their rating.

Rating is one set-based ``UPDATE`` over the CDRs of a company and period: the
service by the trunk or caller identifier (at call time), the destination group
by the longest prefix of the called number, the customer's rate plan (or the
company's default) and the rate of that group in force at call time, then the
price. Rating writes no indexed column, and the table keeps free room in its
pages (fillfactor), so PostgreSQL updates the rows in place (HOT updates).

Billing and rating of a company exclude each other (advisory locks): the calls
of a chunk of invoices cannot be re-rated between adding up the usage lines and
linking the calls to the invoices. Billing jobs run in parallel with each other,
and so do rating jobs: a large rating is cut into slices of its period, one
queue job each (``_rate_in_jobs``), that several job workers rate at once.
"""

import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import SQL, float_round, format_date

from ..tools import phone
from ..tools.relational import Many2oneNoForeignKey

_logger = logging.getLogger(__name__)

STATES = [
    ("new", "New"),
    ("rated", "Rated"),
    ("unmatched", "Unmatched"),
    ("error", "Error"),
    ("invoiced", "Invoiced"),
]
RATABLE_STATES = ("new", "rated", "unmatched", "error")
LOCK_KEY = 1380079177  # advisory lock namespace of CDR rating and billing
# Lock slots of a company (LOCK_KEY + slot): a rating job locks one exclusively,
# a whole rating all of them, billing all of them shared (see ``_lock_rating``).
LOCK_SLOTS = 16
# Calls to rate from which ``_rate_in_jobs`` uses jobs, and the calls per job.
RATING_JOBS_MIN = 200_000
RATING_JOB_CALLS = 250_000
ANALYZE_MIN_ROWS = 50_000
# Statistics target of that ANALYZE (PostgreSQL samples 300 rows per unit);
# autovacuum analyzes again later with the server's default.
ANALYZE_TARGET = 10
# Percent of each page filled on insert; rating updates use the rest. A rated row
# is about 30% longer than a new one (service, customer, group, rate, billed
# seconds, price, margin): at 40% every page has room for the rated version of
# each of its rows, so that one rating pass updates them all in place.
FILLFACTOR = 40
# The lookup tables of a rating (``_rating_tables``).
LOOKUPS = ("keys", "svc", "rates", "dest")
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
# The lookup tables cover calls from/to these instants (imports accept 1900-2999).
TIME_MIN = datetime(1900, 1, 1)
TIME_MAX = datetime(3000, 1, 1)
# Values of the periods without a rate: (rate_id, cost plus, per minute, flagfall,
# first block, next block, minimum charge, markup factor)
NO_RATE = (None, False, 0, 0, 0, 1, 0, 1)
# Values of the periods of a free destination group without a rate (freecall,
# emergency): rate 0 (no rate record, stored as none), billed by the second at 0.
FREE_RATE = (0, False, 0, 0, 0, 1, 0, 1)
# Billed seconds and price of a CDR ``t`` at rate ``r`` (see rebilling.rate), in
# integer arithmetic for the blocks (a ceiling division), numeric for the money.
# The price is written twice (price and margin): kept to a few operations.
BILLED = SQL(
    """CASE WHEN r.rate_id IS NULL THEN NULL
            WHEN t.duration <= 0 THEN 0
            WHEN t.duration <= r.first_block THEN r.first_block
            ELSE r.first_block + (t.duration - r.first_block + r.next_block - 1)
                                 / r.next_block * r.next_block END"""
)
PRICE = SQL(
    """CASE WHEN r.rate_id IS NULL THEN NULL
            WHEN t.duration <= 0 THEN 0
            ELSE round(GREATEST(r.minimum_charge,
                 CASE WHEN r.cost_plus
                      THEN r.flagfall + COALESCE(t.cost, 0) * r.markup_factor
                      ELSE r.flagfall + %s * r.rate_per_minute / 60 END), 4) END""",
    BILLED,
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

    # ------------------------------------------------------------ rating
    @api.model
    def _lock_rating(self, company, shared=False, slot=None):
        """Lock the rating of ``company``'s calls for the rest of the transaction.

        ``slot``: a rating job, which locks its slot only, so that jobs on other
        slots run at the same time. Otherwise a whole rating (every slot), or with
        ``shared`` billing (every slot, shared: billing runs in parallel with
        billing, never with a rating). Slots are locked in ascending order, so two
        transactions cannot wait for each other.
        """
        if slot is not None:
            self.env.cr.execute(
                SQL(
                    "SELECT pg_advisory_xact_lock(%s, %s)",
                    LOCK_KEY + slot % LOCK_SLOTS,
                    company.id,
                )
            )
            return
        lock = SQL("pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock")
        self.env.cr.execute(
            SQL(
                "SELECT %s(%s + s, %s) FROM generate_series(0, %s) s ORDER BY s",
                lock,
                LOCK_KEY,
                company.id,
                LOCK_SLOTS - 1,
            )
        )

    @api.model
    def _try_lock_rating(self, company):
        """Lock the rating of ``company`` like a whole rating, without waiting.

        Returns whether every slot is locked (for the rest of the transaction):
        False while billing or a rating of the company runs. An import rating its
        new calls as it inserts them (``rebilling.cdr.import``) then inserts them
        unrated instead of waiting.
        """
        self.env.cr.execute(
            SQL(
                "SELECT bool_and(pg_try_advisory_xact_lock(%s + s, %s)) "
                "FROM generate_series(0, %s) s",
                LOCK_KEY,
                company.id,
                LOCK_SLOTS - 1,
            )
        )
        return bool(self.env.cr.fetchone()[0])

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

    @api.model
    def _rate(self, company, start=None, end=None, rerate=False, ids=None, slot=None):
        """Rate the CDRs of ``company`` started in [``start``, ``end``) (UTC, either open).

        New calls only, or with ``rerate`` also the rated, unmatched and error ones
        (never the invoiced ones). Returns the number of CDRs rated. ``slot``: run
        as one of several rating jobs (see ``_lock_rating``).

        The lookup tables are built first (small: per distinct caller and trunk,
        per distinct called number, per plan and destination group), each one
        covering all time, so that the single UPDATE joins them with inner joins
        and needs no second pass over the CDRs.
        """
        company.ensure_one()
        started = time.monotonic()
        cr = self.env.cr
        self.flush_model()
        self._lock_rating(company, slot=slot)
        self._bulk_settings()
        where = self._rating_where(company, start, end, rerate, ids)
        tables = self._rating_tables()
        self._drop_rating_tables(tables)
        self._build_rating_tables(company, tables, where, (start, end))
        columns = self._rating_columns()
        cr.execute(
            SQL(
                "UPDATE rebilling_cdr t SET %s FROM %s WHERE %s AND %s",
                SQL(", ").join(SQL("%s = %s", SQL.identifier(c), e) for c, e in columns),
                self._rating_from(tables),
                where,
                self._rating_join(),
            )
        )
        count = cr.rowcount
        self._drop_rating_tables(tables)
        self._bulk_settings(reset=True)
        self.invalidate_model()
        _logger.info(
            "rated %s CDRs of company %s in %.2fs", count, company.id, time.monotonic() - started
        )
        return count

    @api.model
    def _rating_where(self, company, start=None, end=None, rerate=False, ids=None):
        """SQL condition on ``t``: the calls a rating of these arguments rates (see ``_rate``)."""
        states = list(RATABLE_STATES) if rerate else ["new"]
        where = [SQL("t.company_id = %s AND t.state = ANY(%s)", company.id, states)]
        if start:
            where.append(SQL("t.start_time >= %s", start))
        if end:
            where.append(SQL("t.start_time < %s", end))
        if ids is not None:
            where.append(SQL("t.id = ANY(%s)", list(ids)))
        return SQL(" AND ").join(where)

    @api.model
    def _rating_slices(self, company, start=None, end=None, rerate=False, jobs=None):
        """``(calls, [(start, end)])``: the calls a rating rates, and its period cut
        for ``jobs`` jobs (by default one per ``RATING_JOB_CALLS`` calls) in slices
        of equal length covering them.
        """
        self.flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT count(*), min(t.start_time), max(t.start_time) FROM rebilling_cdr t "
                "WHERE %s",
                self._rating_where(company, start, end, rerate),
            )
        )
        count, first, last = self.env.cr.fetchone()
        if not count:
            return 0, []
        jobs = max(1, min(jobs or -(-count // RATING_JOB_CALLS), count))
        stop = last + timedelta(seconds=1)
        step = (stop - first) / jobs
        bounds = [first + step * i for i in range(jobs)] + [stop]
        return count, list(zip(bounds, bounds[1:], strict=False))

    @api.model
    def _rate_in_jobs(self, company, start=None, end=None, rerate=False, jobs=None, min_calls=None):
        """Rate like ``_rate``, in parallel queue jobs when there are many calls.

        Below ``min_calls`` calls (default ``RATING_JOBS_MIN``) the rating runs
        here, in this transaction. Otherwise the period is cut into slices
        (``_rating_slices``), one job each on the channel ``root.rebilling.rating``:
        as many job workers as the channel allows rate them at once, each slice in
        its own transaction. Returns ``(calls, jobs)``: the calls to rate, and the
        jobs queued for them (0: rated here).
        """
        count, slices = self._rating_slices(company, start, end, rerate, jobs)
        if count < (RATING_JOBS_MIN if min_calls is None else min_calls):
            return self._rate(company, start, end, rerate) if count else 0, 0
        for slot, (slice_start, slice_end) in enumerate(slices):
            self.with_delay(
                description=self.env._(
                    "Rate the calls of %(company)s from %(start)s to %(end)s",
                    company=company.name,
                    start=slice_start,
                    end=slice_end,
                ),
                identity_key=(
                    f"rebilling_rate:{company.id}:{slice_start.isoformat()}:"
                    f"{slice_end.isoformat()}:{int(rerate)}"
                ),
            )._rate_job(company, slice_start, slice_end, rerate, slot)
        return count, len(slices)

    @api.model
    def _rate_job(self, company, start, end, rerate, slot):
        """Job: rate one slice of a rating (see ``_rate_in_jobs``)."""
        count = self._rate(company, start, end, rerate, slot=slot)
        return self.env._("%s calls rated", count)

    @api.model
    def _rating_tables(self):
        """The temporary lookup tables of a rating: ``{name: SQL identifier}``."""
        return {n: SQL.identifier(f"rebilling_voip_{n}") for n in LOOKUPS}

    @api.model
    def _create_lookup(self, tables, name, body):
        """``CREATE TEMP TABLE`` the lookup ``name`` of ``tables`` with ``body``."""
        self.env.cr.execute(SQL("CREATE TEMP TABLE %s %s", tables[name], body))

    @api.model
    def _drop_rating_tables(self, tables):
        self.env.cr.execute(
            SQL("DROP TABLE IF EXISTS %s", SQL(", ").join(tables[n] for n in LOOKUPS))
        )

    @api.model
    def _build_rating_tables(self, company, tables, where, window=(None, None), source=None):
        """Build the lookup tables for the calls ``t`` matching ``where``.

        One scan of the calls: their distinct called numbers and callers/trunks.
        ``window``: the calls start in it (``[start, end)``, either open); the
        periods of services and rates outside it are left out (fewer rows for
        each call to try in the joins). ``source``: SQL of the calls ``t`` (by
        default ``rebilling_cdr t``; an import rating the rows it inserts gives
        its own, with the columns ``called_e164``, ``caller_e164`` and ``trunk``).
        """
        self._create_lookup(
            tables,
            "keys",
            SQL(
                """
                AS
                SELECT t.called_e164 AS called, COALESCE(t.caller_e164, '') AS caller,
                       COALESCE(t.trunk, '') AS trunk, GROUPING(t.called_e164) AS kind
                  FROM %(source)s
                 WHERE %(where)s
                 GROUP BY GROUPING SETS ((t.called_e164),
                                         (COALESCE(t.caller_e164, ''), COALESCE(t.trunk, '')))
                """,
                source=source or SQL("rebilling_cdr t"),
                where=where,
            ),
        )
        plans = self._build_service_table(company, tables, window)
        self._build_rate_table(company, plans, tables, window)
        self._build_destination_table(company, tables)

    @api.model
    def _rating_from(self, tables):
        """SQL of the lookup tables joined by ``_rating_join``."""
        return SQL("%s s, %s d, %s r", tables["svc"], tables["dest"], tables["rates"])

    @api.model
    def _rating_join(self):
        """SQL condition joining a call ``t`` to its lookups: exactly one row each.

        The lookup tables cover every key and all time (periods without a service
        or rate are rows with NULLs), so inner joins keep every call.
        """
        return SQL(" AND ").join(self._rating_join_parts().values())

    @api.model
    def _rating_join_parts(self):
        """``{"s": SQL, "d": SQL, "r": SQL}``: the join condition of each lookup.

        ``_rating_join`` is their conjunction; an import rating the rows it
        inserts outer-joins them one by one (``rebilling.cdr.import``).
        """
        return {
            "s": SQL(
                """s.caller = COALESCE(t.caller_e164, '') AND s.trunk = COALESCE(t.trunk, '')
                   AND t.start_time >= s.valid_from AND t.start_time < s.valid_to"""
            ),
            "d": SQL("d.num = t.called_e164"),
            "r": SQL(
                """r.plan_id = s.plan_id
                   AND r.group_id = CASE WHEN d.loc_group IS NOT NULL
                                              AND d.loc_len >= COALESCE(d.nat_len, 0)
                                              AND %s
                                         THEN d.loc_group ELSE COALESCE(d.nat_group, 0) END
                   AND t.start_time >= r.valid_from AND t.start_time < r.valid_to""",
                self._local_call_sql(),
            ),
        }

    @api.model
    def _local_call_sql(self):
        """SQL condition: the call ``t`` (service lookup ``s``, destination ``d``) is local.

        By the local zones (``rebilling.local.zone``) of the caller (or of the
        service, for a call matched by its trunk) and of the called number when
        either has one, else by the area code of the called number's local prefix.
        Extend for another notion of local.
        """
        return SQL(
            """CASE WHEN d.loc_zone IS NOT NULL OR s.zone IS NOT NULL THEN d.loc_zone = s.zone
                    ELSE left(t.caller_e164, d.loc_len) = d.loc_prefix END"""
        )

    @api.model
    def _rating_columns(self):
        """``[(column, SQL)]``: what rating writes on a call ``t`` (see ``_rating_join``)."""
        return [
            ("service_id", SQL("s.service_id")),
            ("partner_id", SQL("s.partner_id")),
            ("destination_group_id", SQL("NULLIF(r.group_id, 0)")),
            ("rate_id", SQL("NULLIF(r.rate_id, 0)")),
            ("billed_seconds", BILLED),
            ("price", PRICE),
            ("margin", SQL("%s - COALESCE(t.cost, 0)", PRICE)),
            (
                "state",
                SQL(
                    """CASE WHEN s.service_id IS NULL OR r.group_id = 0 THEN 'unmatched'
                            WHEN r.rate_id IS NULL THEN 'error' ELSE 'rated' END"""
                ),
            ),
            (
                "rating_note",
                SQL(
                    """CASE WHEN s.service_id IS NULL THEN %(note_service)s
                            WHEN r.group_id = 0 THEN %(note_destination)s
                            WHEN r.plan_id = 0 AND r.rate_id IS NULL THEN %(note_plan)s
                            WHEN r.rate_id IS NULL THEN %(note_rate)s END""",
                    note_service=self.env._("No service has this caller or trunk at the call time"),
                    note_destination=self.env._("No destination group for this number"),
                    note_plan=self.env._(
                        "The customer has no rate plan and the company no default"
                    ),
                    note_rate=self.env._(
                        "The rate plan has no rate for this destination at the time"
                    ),
                ),
            ),
        ]

    @api.model
    def _tile(self, periods, window=(None, None)):
        """Cover all time with ``periods`` ([start, end, value], start-sorted, no overlap).

        Returns ``[(start, end, value)]`` from ``TIME_MIN`` to ``TIME_MAX`` with
        ``None`` values in the gaps; only the tiles that overlap ``window``
        (``[start, end)``, either open) when it is given.
        """
        tiles = []
        cursor = TIME_MIN
        for start, end, value in periods:
            start = max(start or TIME_MIN, TIME_MIN)
            end = min(end or TIME_MAX, TIME_MAX)
            if end <= start:
                continue
            if start > cursor:
                tiles.append((cursor, start, None))
            start = max(start, cursor)
            if end > start:
                tiles.append((start, end, value))
                cursor = end
        if cursor < TIME_MAX:
            tiles.append((cursor, TIME_MAX, None))
        first, last = window
        return [
            tile
            for tile in tiles
            if (first is None or tile[1] > first) and (last is None or tile[0] < last)
        ]

    @api.model
    def _service_periods(self, company):
        """``{identifier: [[start, end, (service, partner, plan)]]}`` without overlaps.

        An identifier used by several services at once goes to the one that
        started last (overlaps are cut), so a call matches one service at most.
        """
        region = company._rebilling_region()
        # The customer's plan is per company: read in the rating company.
        services = (
            self.env["rebilling.service"]
            .sudo()
            .with_company(company)
            .search([("company_id", "=", company.id), ("identifiers", "!=", False)])
        )
        # Only plans of the rating company: another company's plan never prices its calls.
        default_plan = company.rebilling_rate_plan_id.filtered(lambda p: p.company_id == company)
        by_ident = defaultdict(list)
        for service in services:
            plan = service.partner_id.rebilling_rate_plan_id
            plan = plan if plan.company_id == company else default_plan
            valid_from, valid_to = company._rebilling_days_utc(service.date_start, service.date_end)
            value = (service.id, service.partner_id.id, plan.id or 0)
            for ident in service._identifier_list():
                for key in {phone.normalize(ident, region) or ident, ident}:
                    by_ident[key].append([valid_from, valid_to, value])
        for periods in by_ident.values():
            periods.sort(key=lambda p: (p[0], p[2][0]))
            for current, following in zip(periods, periods[1:] + [None], strict=True):
                if following and (current[1] is None or current[1] > following[0]):
                    current[1] = following[0]
        return by_ident

    @api.model
    def _build_service_table(self, company, tables, window=(None, None)):
        """Lookup ``svc``: per distinct (caller, trunk) of the CDRs, the service at any time.

        The trunk identifier wins over the caller's number; the periods without a
        service are there too (NULL service, plan 0). Returns the plan ids used.
        """
        cr = self.env.cr
        by_ident = self._service_periods(company)
        Zone = self.env["rebilling.local.zone"]
        zone_prefixes = Zone._zone_prefixes(company)
        service_zones = {}
        if zone_prefixes:
            services = (
                self.env["rebilling.service"]
                .sudo()
                .search([("company_id", "=", company.id), ("identifiers", "!=", False)])
            )
            service_zones = Zone._service_zones(
                services, zone_prefixes, company._rebilling_region()
            )
        cr.execute(SQL("SELECT caller, trunk FROM %s WHERE kind = 1", tables["keys"]))
        rows = []
        plans = {0}
        for caller, trunk in cr.fetchall():
            trunk_periods = self._tile(by_ident.get(trunk, []) if trunk else [])
            caller_periods = by_ident.get(caller, []) if caller else []
            merged = []
            for start, end, value in trunk_periods:
                if value is not None:
                    merged.append([start, end, value])
                    continue
                # No trunk service here: the caller's services fill the gap.
                for c_start, c_end, c_value in caller_periods:
                    lo = max(start, c_start or TIME_MIN)
                    hi = min(end, c_end or TIME_MAX)
                    if lo < hi:
                        merged.append([lo, hi, c_value])
            merged.sort(key=lambda p: p[0])
            caller_zone = Zone._zone_of(caller, zone_prefixes) if zone_prefixes else None
            for start, end, value in self._tile(merged, window):
                service_id, partner_id, plan_id = value or (None, None, 0)
                plans.add(plan_id)
                zone = caller_zone or service_zones.get(service_id)
                rows.append((caller, trunk, start, end, service_id, partner_id, plan_id, zone))
        self._create_lookup(
            tables,
            "svc",
            SQL(
                """(caller text, trunk text, valid_from timestamp, valid_to timestamp,
                    service_id int, partner_id int, plan_id int, zone int)"""
            ),
        )
        self._fill_lookup(tables["svc"], rows)
        return plans

    @api.model
    def _build_rate_table(self, company, plans, tables, window=(None, None)):
        """Lookup ``rates``: per plan and destination group (0: none), the rate at any time.

        A free group (``free_call``) without a rate of the plan rates at zero.
        """
        groups = (
            self.env["rebilling.destination.group"]
            .sudo()
            .search([("company_id", "in", [company.id, False])])
        )
        rates = (
            self.env["rebilling.rate"]
            .sudo()
            .search(
                [
                    ("plan_id", "in", [p for p in plans if p]),
                    ("plan_id.active", "=", True),
                    ("plan_id.company_id", "=", company.id),
                ],
                order="plan_id, destination_group_id, date_from, id",
            )
        )
        free = set(groups.filtered("free_call").ids)
        grouped = defaultdict(list)
        for rate in rates:
            grouped[(rate.plan_id.id, rate.destination_group_id.id)].append(rate)
        rows = []
        for plan_id in plans:
            for group_id in [0, *groups.ids]:
                plan_rates = grouped.get((plan_id, group_id), [])
                periods = []
                for rate, following in zip(plan_rates, [*plan_rates[1:], None], strict=False):
                    valid_from = company._rebilling_day_start_utc(rate.date_from)
                    valid_to = (
                        company._rebilling_day_start_utc(following.date_from) if following else None
                    )
                    periods.append([valid_from, valid_to, rate])
                no_rate = FREE_RATE if group_id in free else NO_RATE
                for start, end, rate in self._tile(periods, window):
                    values = self._rate_values(rate) if rate else no_rate
                    rows.append((plan_id, group_id, start, end, *values))
        self._create_lookup(
            tables,
            "rates",
            SQL(
                """(plan_id int, group_id int, valid_from timestamp, valid_to timestamp,
                    rate_id int, cost_plus boolean, rate_per_minute numeric, flagfall numeric,
                    first_block int, next_block int, minimum_charge numeric,
                    markup_factor numeric)"""
            ),
        )
        self._fill_lookup(tables["rates"], rows)

    @api.model
    def _fill_lookup(self, table, rows):
        """Insert ``rows`` (tuples in column order) into the lookup ``table``, then ANALYZE it."""
        cr = self.env.cr
        if rows:
            # execute_values wants its own placeholder after the (quoted) table name.
            cr.execute_values(
                SQL("INSERT INTO %s VALUES ", table).code + "%s", rows, page_size=1000
            )
        cr.execute(SQL("ANALYZE %s", table))

    @api.model
    def _rate_values(self, rate):
        """The columns of the ``rates`` lookup for ``rate`` (``NO_RATE`` without one)."""
        return (
            rate.id,
            rate.method == "cost_plus",
            rate.rate_per_minute,
            rate.flagfall,
            rate.first_block,
            rate.next_block or 1,
            rate.minimum_charge,
            Decimal(str(rate.markup_percent)) / 100 + 1,
        )

    @api.model
    def _build_destination_table(self, company, tables):
        """Lookup ``dest``: per distinct called number, its longest national and local prefixes."""
        self._create_lookup(
            tables,
            "dest",
            SQL(
                """
                AS
                  WITH nums AS (
                    SELECT called AS num FROM %(keys)s WHERE kind = 0
                  ), pref AS (
                    SELECT p.prefix, p.group_id, COALESCE(p.same_area, false) AS same_area,
                           length(p.prefix) AS len,
                           p.company_id IS NOT NULL AS own, g.sequence, g.id AS gid
                      FROM rebilling_destination_prefix p
                      JOIN rebilling_destination_group g ON g.id = p.group_id
                     WHERE g.active AND (g.company_id IS NULL OR g.company_id = %(company)s)
                  ), cand AS (
                    SELECT n.num, pr.*
                      FROM nums n
                      JOIN generate_series(2, (SELECT COALESCE(max(len), 1) FROM pref)) AS l(n)
                        ON l.n <= length(n.num)
                      JOIN pref pr ON pr.prefix = left(n.num, l.n)
                  )
                SELECT n.num, nat.group_id AS nat_group, nat.len AS nat_len,
                       loc.group_id AS loc_group, loc.prefix AS loc_prefix, loc.len AS loc_len,
                       CASE WHEN loc.group_id IS NOT NULL THEN %(zone)s END AS loc_zone
                  FROM nums n
                  LEFT JOIN (
                    SELECT DISTINCT ON (num) num, group_id, len FROM cand WHERE NOT same_area
                     ORDER BY num, len DESC, own DESC, sequence, gid
                  ) nat ON nat.num = n.num
                  LEFT JOIN (
                    SELECT DISTINCT ON (num) num, group_id, prefix, len FROM cand WHERE same_area
                     ORDER BY num, len DESC, own DESC, sequence, gid
                  ) loc ON loc.num = n.num
                """,
                keys=tables["keys"],
                company=company.id,
                zone=self.env["rebilling.local.zone"]._zone_sql(
                    SQL("n.num"), self.env["rebilling.local.zone"]._zone_prefixes(company)
                ),
            ),
        )
        self.env.cr.execute(SQL("ANALYZE %s", tables["dest"]))

    # ------------------------------------------------------------ billing
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
                  FROM rebilling_cdr c
                 WHERE %s
                 GROUP BY c.partner_id, c.destination_group_id
                """,
                self._usage_where(company, partner_ids, start, end, invoice_ids),
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _usage_summary_by_month(self, company, partner_ids, start, end, invoice_ids=None):
        """Like ``_usage_summary``, per usage month too (the company's time zone): rows
        ``(partner_id, group_id, calls, seconds, billed seconds, amount, service_id,
        month)`` where ``month`` is the 1st of the calls' local month. Late calls keep
        their own month on the invoice. Extend for another split of the usage lines."""
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
                            THEN min(c.service_id) END,
                       date_trunc('month', (c.start_time AT TIME ZONE 'UTC') AT TIME ZONE %s)::date
                  FROM rebilling_cdr c
                 WHERE %s
                 GROUP BY 1, 2, 8
                """,
                company.rebilling_tz or "UTC",
                self._usage_where(company, partner_ids, start, end, invoice_ids),
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
    def _rate_again_after_rate_change(self, company, group_ids, date_from=None):
        """Rate again the unbilled calls of ``group_ids`` started from ``date_from`` (a
        company day; all when empty): a rate entered or corrected after they were
        rated applies to them, before any run bills them. Invoiced calls keep the
        price they were billed at. Returns the number of calls rated again.

        Set-based: one UPDATE puts them back to new, then the usual rating (in
        jobs when there are many). Extend for other changes that price calls.
        """
        if not group_ids:
            return 0
        start = company._rebilling_days_utc(date_from, None)[0] if date_from else None
        self.flush_model()
        where = [
            SQL(
                "company_id = %s AND state IN ('rated', 'unmatched', 'error') "
                "AND invoice_id IS NULL AND destination_group_id = ANY(%s)",
                company.id,
                list(group_ids),
            )
        ]
        if start:
            where.append(SQL("start_time >= %s", start))
        self.env.cr.execute(
            SQL("UPDATE rebilling_cdr SET state = 'new' WHERE %s", SQL(" AND ").join(where))
        )
        count = self.env.cr.rowcount
        self.invalidate_model(["state"])
        if count:
            self._rate_in_jobs(company, start=start)
        return count

    @api.model
    def _period_label(self, date_from, date_to):
        return f"{format_date(self.env, date_from)} - {format_date(self.env, date_to)}"

    # ------------------------------------------------------------ actions
    @api.model
    def _cron_rate_new(self):
        """Rate the new calls of every company (all periods; many in parallel jobs)."""
        for (company,) in self.sudo()._read_group([("state", "=", "new")], ["company_id"]):
            self._rate_in_jobs(company)
