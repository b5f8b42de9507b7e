"""Call detail records, rating lookups: the small tables a rating joins each call to.

Built before the rating's single UPDATE, each covering all time so that inner
joins keep every call: per distinct caller and trunk the service at any time
(``svc``), per plan and destination group the rate at any time (``rates``), per
distinct called number its longest national and local prefixes (``dest``).
"""

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from odoo import api, models
from odoo.tools import SQL

from ..tools import phone

# The lookup tables of a rating (``_rating_tables``).
LOOKUPS = ("keys", "svc", "rates", "dest")
# The lookup tables cover calls from/to these instants (imports accept 1900-2999).
TIME_MIN = datetime(1900, 1, 1)
TIME_MAX = datetime(3000, 1, 1)
# Values of the periods without a rate: (rate_id, cost plus, per minute, flagfall,
# first block, next block, minimum charge, markup factor)
NO_RATE = (None, False, 0, 0, 0, 1, 0, 1)
# Values of the periods of a free destination group without a rate (freecall,
# emergency): rate 0 (no rate record, stored as none), billed by the second at 0.
FREE_RATE = (0, False, 0, 0, 0, 1, 0, 1)


class RebillingCdrRatingLookup(models.Model):
    _inherit = "rebilling.cdr"  # pylint: disable=consider-merging-classes-inherited

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
