"""Call detail records, rating: the price of every call, set-based.

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
from datetime import timedelta

from odoo import api, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

RATABLE_STATES = ("new", "rated", "unmatched", "error")
LOCK_KEY = 1380079177  # advisory lock namespace of CDR rating and billing
# Lock slots of a company (LOCK_KEY + slot): a rating job locks one exclusively,
# a whole rating all of them, billing all of them shared (see ``_lock_rating``).
LOCK_SLOTS = 16
# Calls to rate from which ``_rate_in_jobs`` uses jobs, and the calls per job.
RATING_JOBS_MIN = 200_000
RATING_JOB_CALLS = 250_000
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


class RebillingCdrRating(models.Model):
    _inherit = "rebilling.cdr"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------ locks
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

    # ------------------------------------------------------------ rating
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

    # ------------------------------------------------------------ actions
    @api.model
    def _cron_rate_new(self):
        """Rate the new calls of every company (all periods; many in parallel jobs)."""
        for (company,) in self.sudo()._read_group([("state", "=", "new")], ["company_id"]):
            self._rate_in_jobs(company)
