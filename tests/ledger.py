"""Money over time: a generator of customers' months and an independent oracle.

Shared by ``tests/test_ledger_properties.py`` (hypothesis, small CI profile) and
``bench/ledger_sim.py`` (long profile). A simulation is a list of *steps*, each a
tuple of five integers ``(kind, a, b, c, d)`` that ``Ledger.apply`` reads
against the simulated state (customer ``a % n``, a day ``c % 28 + 1``, ...),
so that hypothesis shrinks a failing list to few, small steps.

The oracle computes the money from the events alone (what was entered, when),
by the rules of /work/shared/reference/money-invariants.md, never with the
product's proration, catch-up or rating code:

- a recurring item (service, recurring charge) is worth ``price x quantity x
  days / days_in(month)`` for its active days of a month, at the price and
  quantity in force when that month was first billed for it; the days a user
  credited with Odoo's Credit Note are worth 0 (the user waived them);
- a once-off charge is billed once, net, on the first run on or after its date
  (and after it was entered), whatever its service's state;
- a call is priced by the plan below, written out here again: national
  0.10/min in 60 s blocks, mobile 0.20/min, 30 s then 1 s blocks;
- a supplier that writes Sydney local times (``DST_CALLS``): two distinct calls
  (two call ids) at the same 02:30 of a day Sydney's clocks change are two calls.
  02:30 on the first Sunday of April happens twice, on the first Sunday of
  October never; both are read as standard time (UTC+10), the documented rule.

``Ledger.violations()`` lists what the database disagrees with.
"""

import calendar
import contextlib
import csv
import io
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo.exceptions import UserError

# ------------------------------------------------------------------ step kinds
RUN = "run"
RATE = "rate"
SERVICE = "service"
END = "end"
REPRICE = "reprice"
RECURRING = "recurring"
ONCE = "once"
CALLS = "calls"
LATE_CALLS = "late_calls"
DUPLICATE_CALLS = "duplicate_calls"
APPROVE = "approve"
REISSUE = "reissue"
ADJUST = "adjust"
CREDIT_FULL = "credit_full"
CREDIT_PARTIAL = "credit_partial"
DST_CALLS = "dst_calls"
# Steps that change documents: the invariants are checked after each of them (the
# other steps change what the next run bills, which it then checks).
DOCUMENT_KINDS = {RUN, APPROVE, REISSUE, ADJUST, CREDIT_FULL, CREDIT_PARTIAL}
KINDS = (
    RUN,
    SERVICE,
    END,
    REPRICE,
    RECURRING,
    ONCE,
    CALLS,
    LATE_CALLS,
    DUPLICATE_CALLS,
    APPROVE,
    REISSUE,
    ADJUST,
    CREDIT_FULL,
    CREDIT_PARTIAL,
    RATE,
    DST_CALLS,
)

# Switches of situations that bugs of issue 26 got wrong (the case numbers), all
# fixed now: a profile leaves out those of a bug still open (``Profile.include_bugs``).
KNOWN_BUGS = {
    # 1, 2: a reissue of an invoice that carries credit lines.
    "reissue_with_credits": "cases 1-2: a reissue drops or mis-signs credit lines",
    # 3: a once-off charge of a service that has ended by the charge's date.
    "once_of_ended_service": "case 3: a termination fee of an ended service is never billed",
    # 4: quantities large enough for the 4-digit unit price rounding to show.
    "large_quantities": "case 4: quantity x prorated price rounded at the unit price",
    # 6, 12: a service ended after Odoo's Credit Note credited its line.
    "end_after_credit_note": "cases 6/12: credit note then end date credits twice",
    # 8: once-off charges dated after the 1st of a month.
    "once_mid_month": "case 8: a once-off charge is billed before its date",
    # 12: Odoo's Credit Note (its lines lose kind, service and period).
    "credit_notes": "case 12: Odoo's credit note lines lose what they billed",
}

# The plan written out again (see the module docstring): group code -> price(seconds).
NATIONAL = "national"
MOBILE = "mobile"


# Per-minute rates of the plan at the start: {group: [(from, per minute)]}.
START_RATES = {NATIONAL: [(date(2000, 1, 1), 0.10)], MOBILE: [(date(2000, 1, 1), 0.20)]}


def call_price(group, seconds, per_minute=None):
    """The rated price of a call, from the rate plan as a customer reads it."""
    if per_minute is None:
        per_minute = START_RATES[group][0][1]
    if seconds <= 0:
        return 0.0
    if group == NATIONAL:
        return round(math.ceil(seconds / 60) * per_minute, 4)
    return round(max(seconds, 30) * per_minute / 60, 4)


def days_in(month):
    return calendar.monthrange(month.year, month.month)[1]


def month_of(day):
    return day.replace(day=1)


def first_sunday(month):
    """The first Sunday of ``month`` (a day of it): Sydney's clocks change on that of
    April (back, 03:00 -> 02:00) and of October (forward, 02:00 -> 03:00)."""
    first = month_of(month)
    return first + timedelta(days=(6 - first.weekday()) % 7)


def months_between(first, last):
    """Firsts of the months from ``first``'s to ``last``'s, both included."""
    month, result = month_of(first), []
    while month <= last:
        result.append(month)
        month += relativedelta(months=1)
    return result


@dataclass
class Profile:
    """What a simulation draws: sizes and the step kinds it may use."""

    customers: int = 3
    months: int = 5
    steps: int = 25
    kinds: tuple = KINDS
    # Situations of KNOWN_BUGS that are drawn (all: every bug of the list is fixed).
    include_bugs: frozenset = frozenset(KNOWN_BUGS)
    # Calls of the steps imported in one file before the next step that bills (long
    # profiles: a transaction of thousands of imports runs out of PostgreSQL locks).
    batch_imports: bool = False
    # The last month billed: the simulation starts ``months`` before it.
    last_month: date = date(2026, 11, 1)

    @property
    def first_month(self):
        return self.last_month - relativedelta(months=self.months - 1)

    def allows(self, bug):
        return bug in self.include_bugs


# CI: small; every situation drawn (none of KNOWN_BUGS is open).
CI_PROFILE = Profile(customers=3, months=4, steps=20)


@dataclass
class Item:
    """A recurring service or charge, or a once-off charge, as the oracle knows it."""

    model: str
    record_id: int
    partner: int
    price: float
    quantity: float
    start: date
    end: date = None
    service: "Item" = None
    once: bool = False
    entered_after: date = None  # period of the last run when it was entered
    # Price and quantity per billed month, fixed when the month is first billed.
    priced: dict = field(default_factory=dict)
    # Days a user credited (Odoo's Credit Note): worth nothing.
    waived: set = field(default_factory=set)
    credited_once: bool = False
    # The last run when it was entered or changed: the next run bills the change.
    touched: date = None

    def active(self, day):
        if day < self.start or (self.end and day > self.end):
            return False
        return not self.service or self.service.active(day)


@dataclass
class Call:
    partner: int
    start: datetime
    seconds: int
    group: str
    call_id: str
    # The price it was invoiced at (a later rate change leaves it).
    billed_price: float = None
    # As the supplier's file writes it, when not in UTC (``start`` is always UTC).
    local_start: datetime = None


class Ledger:
    """A simulation on ``env`` (rolled back by the caller), and its oracle."""

    def __init__(self, env, profile, fixture):
        self.env = env
        self.profile = profile
        self.fx = fixture
        self.company = fixture["company"]
        self.partners = fixture["partners"]
        self.today = datetime.combine(profile.first_month - timedelta(days=5), datetime.min.time())
        self.today = self.today.replace(hour=10)
        self.runs = []  # periods billed, in order
        self.items = []
        self.calls = {}  # supplier call id -> Call
        self.imports = []  # files imported (bytes), for duplicates
        self.call_seq = 0
        self.log = []
        self.last_kind = None
        self.rates = {group: list(rates) for group, rates in START_RATES.items()}
        self.pending_calls = []
        self.off_peak = {}  # invoice id -> its reissue time (rejected, off-peak reissue)
        self.clock = None  # the running clock of ``running_clock``

    # ------------------------------------------------------------ clock
    @property
    def last_run(self):
        return self.runs[-1] if self.runs else None

    @property
    def next_period(self):
        if self.last_run:
            return self.last_run + relativedelta(months=1)
        return self.profile.first_month

    def _month_day(self, month, value):
        return month.replace(day=value % days_in(month) + 1)

    @contextlib.contextmanager
    def at(self, when):
        """The clock at ``when``: the running clock moves there (``running_clock``), else
        the time is frozen at ``when`` for the block."""
        if self.clock:
            self.clock.move_to(when)
            yield
            return
        with freeze_time(when):
            yield

    @contextlib.contextmanager
    def running_clock(self):
        """One frozen clock for many steps, moved by ``at``: freezegun's start scans every
        loaded module (0.07 s each, a tenth of a long simulation's time)."""
        with freeze_time(self.today) as clock:
            self.clock = clock
            try:
                yield
            finally:
                self.clock = None

    # ------------------------------------------------------------ steps
    def apply(self, step):
        kind = self.profile.kinds[step[0] % len(self.profile.kinds)]
        if kind != RUN and self.next_period > self.profile.last_month + relativedelta(months=1):
            return None
        if kind in DOCUMENT_KINDS or kind == DUPLICATE_CALLS:
            self._flush_imports()
        if kind != RUN:
            self._reissue_off_peak(self.today)
        done = getattr(self, f"_step_{kind}")(*step[1:])
        if done:
            self.log.append(done)
            self.last_kind = kind
            if kind in DOCUMENT_KINDS:
                self._freeze_billed_calls()
        return done

    def _step_run(self, a, b, c, d):
        period = self.next_period
        if period > self.profile.last_month:
            return None
        started = datetime.combine(period, datetime.min.time()).replace(hour=1)
        self._reissue_off_peak(started - timedelta(minutes=1))
        with self.at(started):
            for item in self.items:
                for month in self._months_to_price(item, period):
                    item.priced[month] = (item.price, item.quantity)
            run = self.env["rebilling.billing.run"]._get_or_create(self.company, period)
            run.with_context(queue_job__no_delay=True).action_start()
        self.runs.append(period)
        self.today = datetime.combine(period, datetime.min.time()).replace(hour=10)
        return f"run {period}"

    def _months_to_price(self, item, period):
        if item.once:
            return []
        last = min(period, month_of(item.end) if item.end else period)
        return [m for m in months_between(item.start, last) if m not in item.priced]

    def _advance(self, days):
        """Events happen during the month before the next run."""
        limit = datetime.combine(self.next_period, datetime.min.time()) - timedelta(hours=2)
        self.today = min(self.today + timedelta(days=days % 3), limit)

    def _partner(self, a):
        return self.partners[a % len(self.partners)]

    def _product(self, b):
        return self.fx["products"][b % len(self.fx["products"])]

    def _quantity(self, d):
        if self.profile.allows("large_quantities") and d % 5 == 0:
            return float(500 + d % 1000)
        return float(1 + d % 3)

    def _price(self, b):
        return [19.99, 25.0, 31.0, 99.0, 7.35][b % 5]

    def _start_date(self, c):
        """A start in the month of the next run, or entered late (the month before)."""
        month = self.next_period
        if c % 4 == 3 and self.last_run:
            month = self.last_run
        return self._month_day(month, c // 4)

    def _step_service(self, a, b, c, d):
        self._advance(d)
        partner = self._partner(a)
        start = self._start_date(c)
        end = None
        if d % 4 == 1:
            end = start + timedelta(days=10 + d % 40)
        vals = {
            "partner_id": partner.id,
            "product_id": self._product(b).id,
            "price_unit": self._price(b),
            "quantity": self._quantity(d),
            "date_start": start,
            "date_end": end,
        }
        with self.at(self.today):
            service = self.env["rebilling.service"].create(vals)
        item = Item(
            "service",
            service.id,
            partner.id,
            vals["price_unit"],
            vals["quantity"],
            start,
            end,
            entered_after=self.last_run,
            touched=self.last_run,
        )
        self.items.append(item)
        return f"service {service.id} {partner.name} {item.price}x{item.quantity} {start}-{end}"

    def _services(self):
        return [i for i in self.items if i.model == "service"]

    def _step_end(self, a, b, c, d):
        self._advance(d)
        services = [s for s in self._services() if not s.end]
        if not self.profile.allows("end_after_credit_note"):
            services = [s for s in services if not s.waived and not s.credited_once]
        if not services:
            return None
        item = services[a % len(services)]
        # An end in the month of the next run, or (entered late) in a billed month.
        end = self._start_date(c)
        if self.last_run and c % 4 == 3:
            end = self._month_day(self.last_run, c // 4)
        end = max(end, item.start)
        if not self.profile.allows("once_of_ended_service") and any(
            i.once and i.service is item and i.start > end for i in self.items
        ):
            return None
        with self.at(self.today):
            self.env["rebilling.service"].browse(item.record_id).date_end = end
        item.end = end
        item.touched = self.last_run
        for charge in self.items:
            if charge.service is item:
                charge.touched = self.last_run  # it follows its service (Item.active)
        return f"end service {item.record_id} on {end}"

    def _step_reprice(self, a, b, c, d):
        """New price or quantity; only of items billed without a review pending."""
        self._advance(d)
        candidates = [
            i
            for i in self.items
            if not i.once
            and i.model == "service"
            and self.last_run
            and i.priced
            and max(i.priced) == self.last_run
            and not self._under_review(i.partner)
        ]
        if not candidates:
            return None
        item = candidates[a % len(candidates)]
        record = self.env[f"rebilling.{item.model}"].browse(item.record_id)
        with self.at(self.today):
            if b % 2:
                item.price = self._price(c + 1)
                record.price_unit = item.price
            else:
                item.quantity = self._quantity(c + 1)
                record.quantity = item.quantity
        return f"reprice {item.model} {item.record_id}: {item.price}x{item.quantity}"

    def _under_review(self, partner_id):
        return bool(
            self.env["account.move"].search_count(
                [
                    ("partner_id", "=", partner_id),
                    ("rebilling_review_state", "in", ("under_review", "rejected")),
                ]
            )
        )

    def _service_for(self, partner, b, start):
        """An open service of ``partner`` started by ``start``, or none (b even)."""
        if b % 2 == 0:
            return None
        services = [
            s
            for s in self._services()
            if s.partner == partner.id and s.start <= start and (not s.end or s.end >= start)
        ]
        return services[b // 2 % len(services)] if services else None

    def _step_recurring(self, a, b, c, d):
        self._advance(d)
        partner = self._partner(a)
        start = self._start_date(c)
        service = self._service_for(partner, b, start)
        vals = {
            "name": f"Recurring {len(self.items)}",
            "charge_type": "recurring",
            "partner_id": partner.id,
            "product_id": self._product(b).id,
            "price_unit": self._price(b + 2),
            "quantity": self._quantity(d),
            "date_start": start,
            "service_id": service.record_id if service else False,
        }
        with self.at(self.today):
            charge = self.env["rebilling.charge"].create(vals)
        item = Item(
            "charge",
            charge.id,
            partner.id,
            vals["price_unit"],
            vals["quantity"],
            start,
            service=service,
            entered_after=self.last_run,
            touched=self.last_run,
        )
        self.items.append(item)
        return f"recurring {charge.id} {partner.name} {item.price}x{item.quantity} from {start}"

    def _step_once(self, a, b, c, d):
        self._advance(d)
        partner = self._partner(a)
        month = self.next_period + relativedelta(months=c % 3 - 1)
        when = self._month_day(month, c // 3)
        if not self.profile.allows("once_mid_month"):
            when = month
        service = self._service_for(partner, b, when)
        if (
            service
            and service.end
            and service.end < when
            and not self.profile.allows("once_of_ended_service")
        ):
            service = None
        vals = {
            "name": f"Once-off {len(self.items)}",
            "charge_type": "once",
            "partner_id": partner.id,
            "product_id": self._product(b).id,
            "price_unit": self._price(b + 3),
            "quantity": self._quantity(d),
            "date_start": when,
            "service_id": service.record_id if service else False,
        }
        with self.at(self.today):
            charge = self.env["rebilling.charge"].create(vals)
        item = Item(
            "charge",
            charge.id,
            partner.id,
            vals["price_unit"],
            vals["quantity"],
            when,
            service=service,
            once=True,
            entered_after=self.last_run,
            touched=self.last_run,
        )
        self.items.append(item)
        return f"once-off {charge.id} {partner.name} {item.price}x{item.quantity} on {when}"

    # ------------------------------------------------------------ calls
    def _import(self, calls):
        if self.profile.batch_imports:
            self.pending_calls.extend(calls)
            return
        self._import_now(calls)

    def _flush_imports(self):
        calls, self.pending_calls = self.pending_calls, []
        if calls:
            self._import_now(calls)

    def _import_now(self, calls, cdr_format=None):
        """Import ``calls`` in one file of ``cdr_format`` (default: the UTC supplier)."""
        cdr_format = cdr_format or self.fx["format"]
        lines = ["start_time,duration,caller,called,call_id,cost"]
        for call in calls:
            caller = self.fx["numbers"][call.partner]
            called = "(03) 9000 1000" if call.group == NATIONAL else "0412 555 000"
            stamp = (call.local_start or call.start).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"{stamp},{call.seconds},{caller},{called},{call.call_id},0.01")
        content = ("\n".join(lines) + "\n").encode()
        with self.at(self.today):
            self.env["rebilling.cdr.import"]._import_file(
                cdr_format, content, f"calls-{len(self.imports)}.csv"
            )
        self.imports.append((cdr_format, content))
        for call in calls:
            self.calls[call.call_id] = call

    def _new_calls(self, partner, month, b, c, d, latest):
        calls = []
        for i in range(1 + b % 3):
            day = min(self._month_day(month, c + 7 * i), latest.date())
            start = datetime.combine(day, datetime.min.time()).replace(hour=9, minute=i)
            if start >= latest:
                continue
            calls.append(self._call(partner, start, i, c, d))
        return calls

    def _call(self, partner, start, i, c, d, local_start=None):
        """The ``i``-th call of a step: a new call id, its length and group drawn."""
        self.call_seq += 1
        return Call(
            partner.id,
            start,
            (d * 7 + i * 13) % 400 + 1,
            NATIONAL if (c + i) % 2 else MOBILE,
            f"C{self.call_seq:06d}",
            local_start=local_start,
        )

    def _step_calls(self, a, b, c, d):
        """Calls of the current month so far, imported on time."""
        self._advance(d)
        month = month_of(self.today.date())
        calls = self._new_calls(self._partner(a), month, b, c, d, self.today)
        if not calls:
            return None
        self._import(calls)
        return f"{len(calls)} calls of {month}"

    def _step_late_calls(self, a, b, c, d):
        """Calls of a month already billed (1 to 3 months back), arriving late."""
        self._advance(d)
        if not self.last_run:
            return None
        # Up to 3 months back the next run bills them; older ones are too late for any
        # run, which counts them (``late_call_count``).
        month = month_of(self.today.date()) - relativedelta(months=1 + c % 5)
        if month < self.profile.first_month - relativedelta(months=1):
            return None
        latest = datetime.combine(month + relativedelta(months=1), datetime.min.time())
        calls = self._new_calls(self._partner(a), month, b, c, d, latest)
        if not calls:
            return None
        self._import(calls)
        return f"{len(calls)} late calls of {month}"

    def _step_dst_calls(self, a, b, c, d):
        """Two calls of one customer at the same 02:30, Sydney local time, of the last day
        Sydney's clocks changed before the next run (the clock goes on to the day after
        when that day is still to come), from a supplier that writes Sydney times, each
        with its own call id: both are billed. A change of a billed month: late calls."""
        self._advance(d)
        limit = datetime.combine(self.next_period, datetime.min.time()) - timedelta(hours=2)
        changes = [
            first_sunday(date(year, month, 1))
            for year in (limit.year - 1, limit.year)
            for month in (4, 10)
        ]
        day = max(day for day in changes if day < limit.date())
        # 02:30 in Sydney read as standard time (UTC+10): 16:30 UTC the day before.
        local = datetime.combine(day, datetime.min.time()).replace(hour=2, minute=30)
        start = local - timedelta(hours=10)
        too_old = max(
            month_of(self.today.date()) - relativedelta(months=3),
            self.profile.first_month - relativedelta(months=1),
        )
        if month_of(start.date()) < too_old:
            return None  # too late for any run: LATE_CALLS draws those
        self.today = max(self.today, datetime.combine(day + timedelta(days=1), local.time()))
        calls = [self._call(self._partner(a), start, i, c, d, local_start=local) for i in range(2)]
        self._import_now(calls, self.fx["format_sydney"])
        change = "end" if day.month == 4 else "start"
        return f"2 calls at 02:30 Sydney time on {day} (DST {change})"

    def call_price(self, call):
        """The price of ``call`` at the rate in force at its start (the last one entered)."""
        if call.billed_price is not None:
            return call.billed_price
        day = call.start.date()
        per_minute = max((r for r in self.rates[call.group] if r[0] <= day), key=lambda r: r[0])
        return call_price(call.group, call.seconds, per_minute[1])

    def _freeze_billed_calls(self, records=None):
        """Invoiced calls keep the price they were billed at, whatever rate comes later."""
        if records is None:
            open_ids = [i for i, call in self.calls.items() if call.billed_price is None]
            records = self.env["rebilling.cdr"].search(
                [("supplier_call_id", "in", open_ids), ("invoice_id", "!=", False)]
            )
        for record in records:
            call = self.calls[record.supplier_call_id]
            if record.invoice_id and call.billed_price is None:
                call.billed_price = self.call_price(call)

    def _step_rate(self, a, b, c, d):
        """A rate entered or corrected in the plan from a day of this month or the last."""
        self._advance(d)
        group = NATIONAL if a % 2 else MOBILE
        month = month_of(self.today.date()) - relativedelta(months=b % 2)
        day = self._month_day(month, c)
        per_minute = [0.10, 0.12, 0.15, 0.20, 0.25][d % 5]
        xmlid = "dest_au_national" if group == NATIONAL else "dest_au_mobile"
        dest = self.env.ref(f"rebilling_voip.{xmlid}")
        plan = self.company.rebilling_rate_plan_id
        rate = plan.rate_ids.filtered(
            lambda r: r.destination_group_id == dest and r.date_from == day
        )
        with self.at(self.today):
            if rate:
                rate.rate_per_minute = per_minute
            else:
                blocks = (60, 60) if group == NATIONAL else (30, 1)
                self.env["rebilling.rate"].create(
                    {
                        "plan_id": plan.id,
                        "destination_group_id": dest.id,
                        "date_from": day,
                        "rate_per_minute": per_minute,
                        "first_block": blocks[0],
                        "next_block": blocks[1],
                    }
                )
        self.rates[group] = [r for r in self.rates[group] if r[0] != day] + [(day, per_minute)]
        return f"rate {group} {per_minute}/min from {day}"

    def _step_duplicate_calls(self, a, b, c, d):
        if not self.imports:
            return None
        cdr_format, content = self.imports[a % len(self.imports)]
        with self.at(self.today):
            self.env["rebilling.cdr.import"]._import_file(cdr_format, content, "again.csv")
        return "a file imported again"

    # ------------------------------------------------------------ review
    def _review_moves(self, states=("under_review",)):
        return self.env["account.move"].search(
            [
                ("company_id", "=", self.company.id),
                ("rebilling_review_state", "in", states),
                ("state", "=", "posted"),
            ],
            order="id",
        )

    def _step_approve(self, a, b, c, d):
        moves = self._review_moves()
        if not moves:
            return None
        moves = moves.filtered(lambda m: m.partner_id == self._partner(a)) or moves
        with self.at(self.today):
            moves.with_user(self.fx["approver"]).action_rebilling_review_approve()
        return f"approve {moves.mapped('name')}"

    def _step_reissue(self, a, b, c, d):
        self._advance(d)
        moves = self._review_moves()
        if not self.profile.allows("reissue_with_credits"):
            moves = moves.filtered(
                lambda m: (
                    not m.invoice_line_ids.filtered("rebilling_credited_line_id")
                    and m.move_type == "out_invoice"
                )
            )
        if not moves:
            return None
        move = moves[a % len(moves)]
        # Without that known bug: no reissue that would add a credit for a service ended since.
        if not self.profile.allows("reissue_with_credits") and any(
            line.rebilling_date_to
            and (line.rebilling_service_id.date_end or date.max) < line.rebilling_date_to
            for line in self.env["account.move.line"].search(
                [
                    ("move_id.partner_id", "=", move.partner_id.id),
                    ("move_id.state", "=", "posted"),
                    ("rebilling_service_id", "!=", False),
                ]
            )
        ):
            return None
        when = "off_peak" if b % 2 else "now"
        with self.at(self.today):
            wizard = (
                self.env["rebilling.review.reissue.wizard"]
                .with_user(self.fx["approver"])
                .create({"move_ids": [(6, 0, move.ids)], "when": when})
            )
            wizard.action_reissue()
        if when == "off_peak":
            self.off_peak[move.id] = move.rebilling_reissue_at
            return f"reissue {move.name} at the off-peak hour ({move.rebilling_reissue_at})"
        self._repriced_by_reissue(move)
        return f"reissue {move.name}"

    def _repriced_by_reissue(self, move):
        """The reissue prices the invoice's months again at the prices of the moment."""
        for item in self.items:
            if item.partner == move.partner_id.id:
                for month in list(item.priced):
                    if month <= move.rebilling_period and month not in self._final(item):
                        item.priced[month] = (item.price, item.quantity)

    def _reissue_off_peak(self, now):
        """The hourly reissue cron, as it runs by ``now``: the rejected invoices whose
        off-peak hour has come are reissued by its job (one per batch)."""
        due = {move_id: at for move_id, at in self.off_peak.items() if at <= now}
        if not due:
            return
        when = max(due.values())
        with self.at(when):
            self.env["account.move"].with_context(
                queue_job__no_delay=True
            )._cron_rebilling_review_reissue()
        self.env.invalidate_all()
        for move in self.env["account.move"].browse(list(due)):
            if move.rebilling_review_state == "rejected":
                self.off_peak[move.id] = move.rebilling_reissue_at  # failed: the next one
                continue
            del self.off_peak[move.id]
            with self.at(when):
                self._repriced_by_reissue(move)
        self.log.append(f"off-peak reissue at {when}: {sorted(due)}")

    def _final(self, item):
        """Months of ``item`` billed on approved (or unreviewed) documents: never repriced."""
        lines = self.env["account.move.line"].search(
            [
                (
                    "rebilling_charge_id" if item.model == "charge" else "rebilling_service_id",
                    "=",
                    item.record_id,
                ),
                ("move_id.state", "=", "posted"),
                ("move_id.rebilling_review_state", "not in", ("under_review", "rejected")),
                ("rebilling_date_from", "!=", False),
            ]
        )
        return {month_of(line.rebilling_date_from) for line in lines}

    def _step_adjust(self, a, b, c, d):
        moves = self._review_moves()
        if not moves:
            return None
        move = moves[a % len(moves)]
        kind = "credit" if b % 2 else "charge"
        amount = [5.0, 12.5, 40.0][c % 3]
        with self.at(self.today):
            wizard = (
                self.env["rebilling.review.adjust.wizard"]
                .with_user(self.fx["approver"])
                .with_context(default_move_id=move.id)
                .create(
                    {
                        "move_id": move.id,
                        "adjustment_type": kind,
                        "name": f"Manual {kind}",
                        "amount": amount,
                    }
                )
            )
            try:
                with self.env.cr.savepoint():
                    wizard.action_adjust()
            except UserError:
                # Refused: a credit may not take the total below zero.
                if kind != "credit" or amount * 1.1 < move.amount_total - 0.01:
                    raise
                return f"adjust {move.name} {kind} {amount}: refused, above the total"
        return f"adjust {move.name} {kind} {amount}"

    # ------------------------------------------------------------ credit notes
    def _creditable(self, kinds=None):
        """Approved (or never reviewed) invoices of positive lines only, not reversed;
        ``kinds``: with a line of one of these kinds. One query: a scan of every
        invoice's lines in Python made each simulated month slower than the last."""
        domain = [
            ("company_id", "=", self.company.id),
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
            ("rebilling_period", "!=", False),
            ("payment_state", "not in", ("reversed", "blocked")),
            ("rebilling_review_state", "not in", ("under_review", "rejected")),
            ("reversal_move_ids", "=", False),
            (
                "invoice_line_ids",
                "not any",
                [("display_type", "=", "product"), ("price_subtotal", "<", 0)],
            ),
        ]
        if kinds:
            domain.append(("invoice_line_ids", "any", [("rebilling_line_kind", "in", kinds)]))
        return self.env["account.move"].search(domain, order="id")

    def _reverse(self, move):
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=move.ids)
            .create(
                {
                    "move_ids": [(6, 0, move.ids)],
                    "journal_id": move.journal_id.id,
                    "reason": "Simulated credit",
                    "date": self.today.date(),
                }
            )
        )
        action = reversal.refund_moves()
        return self.env["account.move"].browse(action.get("res_id") or reversal.new_move_ids.ids)

    def _waive(self, lines):
        by_key = {(i.model, i.record_id): i for i in self.items}
        for line in lines:
            if line.rebilling_charge_id:
                item = by_key.get(("charge", line.rebilling_charge_id.id))
            else:
                item = by_key.get(("service", line.rebilling_service_id.id))
            if not item:
                continue
            item.credited_once = True
            if item.once:
                item.waived.add(item.start)
            elif line.rebilling_date_from:
                day = line.rebilling_date_from
                while day <= line.rebilling_date_to:
                    item.waived.add(day)
                    day += timedelta(days=1)

    def _step_credit_full(self, a, b, c, d):
        if not self.profile.allows("credit_notes"):
            return None
        moves = self._creditable()
        if not moves:
            return None
        move = moves[a % len(moves)]
        with self.at(self.today):
            refund = self._reverse(move)
            refund.action_post()
        self._waive(move.invoice_line_ids)
        return f"credit note of {move.name}"

    def _step_credit_partial(self, a, b, c, d):
        if not self.profile.allows("credit_notes"):
            return None
        moves = self._creditable(kinds=("service", "recurring", "once"))
        if not moves:
            return None
        move = moves[a % len(moves)]
        lines = move.invoice_line_ids.filtered(
            lambda ln: ln.rebilling_line_kind in ("service", "recurring", "once")
        )
        line = lines[b % len(lines)]
        with self.at(self.today):
            refund = self._reverse(move)
            keep = refund.invoice_line_ids.filtered(
                lambda ln, line=line: ln.rebilling_credited_line_id == line
            )[:1]
            refund.write(
                {"invoice_line_ids": [(2, ln.id) for ln in refund.invoice_line_ids - keep]}
            )
            refund.action_post()
        self._waive(line)
        return f"partial credit note of {move.name}: {line.name}"

    # ------------------------------------------------------------ oracle
    def _documents(self):
        return self.env["account.move"].search(
            [
                ("company_id", "=", self.company.id),
                ("state", "=", "posted"),
                ("move_type", "in", ("out_invoice", "out_refund")),
                ("partner_id", "in", [p.id for p in self.partners]),
            ],
            order="id",
        )

    def violations(self):
        """What the database disagrees with, as sentences (empty: all invariants hold)."""
        self.env.flush_all()
        self.env.invalidate_all()
        docs = self._documents()
        found = []
        found += self._check_documents(docs)
        if self.last_run:
            found += self._check_recurring(docs)
            found += self._check_once(docs)
        found += self._check_calls(docs)
        return found

    @staticmethod
    def _sign(move):
        return -1 if move.move_type == "out_refund" else 1

    def _check_documents(self, docs):
        found = []
        for move in docs:
            lines = move.invoice_line_ids.filtered(lambda ln: ln.display_type == "product")
            untaxed = round(sum(lines.mapped("price_subtotal")), 2)
            if abs(untaxed - move.amount_untaxed) > 0.001:
                found.append(f"{move.name}: untaxed {move.amount_untaxed} != lines {untaxed}")
            gst = 0.10 * move.amount_untaxed
            if abs(move.amount_tax - gst) > 0.01 * max(1, len(lines)) / 2 + 0.005:
                found.append(f"{move.name}: GST {move.amount_tax} != 10% of {untaxed}")
            if abs(move.amount_total - move.amount_untaxed - move.amount_tax) > 0.001:
                found.append(f"{move.name}: total != untaxed + GST")
            if move.amount_total < -0.001:
                found.append(f"{move.name} ({move.move_type}): negative total {move.amount_total}")
        # The Summary (run totals) agrees with the run's documents.
        for run in self.env["rebilling.billing.run"].search(
            [("company_id", "=", self.company.id), ("dry_run", "=", False)]
        ):
            moves = docs.filtered(
                lambda m, run=run: m.rebilling_run_id == run and not m.reversed_entry_id
            )
            total = round(sum(self._sign(m) * m.amount_total for m in moves), 2)
            if abs(total - run.amount_total) > 0.001:
                found.append(
                    f"{run.name}: Summary total {run.amount_total} != documents {total} "
                    + ", ".join(
                        f"{m.name} {m.move_type} {m.amount_total} {m.rebilling_review_state}"
                        f"/{line.amount_total}"
                        for m in moves
                        for line in run.line_ids.filtered(lambda ln, m=m: ln.invoice_id == m)
                    )
                )
        found += self._check_csv(docs)
        return found

    def _check_csv(self, docs):
        """Each document the month's Xero CSV exports has the document's total."""
        found = []
        for period in self.runs:
            wizard = self.env["rebilling.export.wizard"].create(
                {"month": period, "export_type": "xero_csv", "company_id": self.company.id}
            )
            moves = wizard._get_moves()
            if not moves:
                continue
            content = b"".join(wizard._xero_csv_files(moves)).decode()
            totals = {}
            for row in csv.DictReader(io.StringIO(content)):
                if row["*InvoiceNumber"] != "*InvoiceNumber":
                    totals[row["*InvoiceNumber"]] = float(row["Total"])
            for move in moves:
                expected = round(self._sign(move) * move.amount_total, 2)
                if move.name not in totals:
                    found.append(f"CSV {period}: {move.name} missing")
                elif abs(totals[move.name] - expected) > 0.001:
                    found.append(
                        f"CSV {period}: {move.name} total {totals[move.name]} != {expected}"
                    )
        return found

    def _billed(self, docs):
        """``{(model, id, month): (net amount, lines)}`` of the recurring items' lines."""
        billed = {}
        for move in docs:
            sign = self._sign(move)
            for line in move.invoice_line_ids:
                if line.rebilling_charge_id:
                    key = ("charge", line.rebilling_charge_id.id)
                elif line.rebilling_service_id and line.rebilling_line_kind in (
                    "service",
                    "recurring",
                ):
                    key = ("service", line.rebilling_service_id.id)
                else:
                    continue
                month = month_of(line.rebilling_date_from) if line.rebilling_date_from else None
                amount, count = billed.get((*key, month), (0.0, 0))
                billed[(*key, month)] = (amount + sign * line.price_subtotal, count + 1)
        return billed

    def _check_recurring(self, docs):
        billed = self._billed(docs)
        found = []
        for item in self.items:
            if item.once or not item.price or item.touched == self.last_run:
                continue  # a change the next run bills
            for month in months_between(item.start, self.last_run):
                if month < self.profile.first_month:
                    continue
                price, quantity = item.priced.get(month, (item.price, item.quantity))
                days = [
                    month + timedelta(days=i)
                    for i in range(days_in(month))
                    if item.active(month + timedelta(days=i))
                    and month + timedelta(days=i) not in item.waived
                ]
                expected = price * quantity * len(days) / days_in(month)
                amount, count = billed.get((item.model, item.record_id, month), (0.0, 0))
                if abs(amount - expected) > 0.01 * count + 0.005:
                    found.append(
                        f"{item.model} {item.record_id} ({price}x{quantity}, {item.start} - "
                        f"{item.end}): {month:%Y-%m} billed {amount:.2f} net, worth "
                        f"{expected:.2f} ({len(days)} days)"
                    )
        return found

    def _check_once(self, docs):
        billed = self._billed(docs)
        found = []
        for item in self.items:
            if not item.once:
                continue
            due = [
                p
                for p in self.runs
                if p >= item.start and (item.entered_after is None or p > item.entered_after)
            ]
            amount, _count = billed.get((item.model, item.record_id, None), (0.0, 0))
            expected = 0.0 if not due or item.start in item.waived else item.price * item.quantity
            if abs(amount - round(expected, 2)) > 0.005:
                found.append(
                    f"once-off {item.record_id} ({item.start}): billed {amount:.2f} net, "
                    f"expected {expected:.2f}"
                )
            first = self.env["account.move.line"].search(
                [
                    ("rebilling_charge_id", "=", item.record_id),
                    ("move_id.state", "=", "posted"),
                    ("move_id.move_type", "=", "out_invoice"),
                ],
                order="id",
                limit=1,
            )
            # A reissue of an invoice of its month or later may bill it before the run.
            if due and first and not item.start <= first.move_id.rebilling_period <= due[0]:
                found.append(
                    f"once-off {item.record_id} ({item.start}): on the "
                    f"{first.move_id.rebilling_period} invoice, not {due[0]}'s"
                )
        return found

    def _check_calls(self, docs):
        found = []
        Cdr = self.env["rebilling.cdr"]
        records = Cdr.search([("supplier_call_id", "in", list(self.calls))])
        by_id = {r.supplier_call_id: r for r in records}
        for call_id, call in self.calls.items():
            record = by_id.get(call_id)
            if not record:
                found.append(f"call {call_id} of {call.start} lost")
                continue
            if record.invoice_id and record.invoice_id not in docs:
                found.append(f"call {call_id}: on {record.invoice_id.name}, not a posted document")
            # Billed by now: a call of a usage month a run has billed (late calls too).
            if (
                self.last_run
                and record.state != "invoiced"
                and call.start < datetime.combine(self.last_run, datetime.min.time())
                and self._imported_before_last_run(call)
            ):
                found.append(f"call {call_id} of {call.start}: {record.state}, never billed")
        # Calls too late for the last run are counted on it, never silently left.
        run = self.env["rebilling.billing.run"].search(
            [("company_id", "=", self.company.id), ("period_start", "=", self.last_run)]
        )
        if run and "late_call_count" in run._fields:
            late = Cdr.search(run._late_call_domain())
            limit = datetime.combine(run._voip_late_limit(), datetime.min.time())
            for call_id, call in self.calls.items():
                record = by_id.get(call_id)
                if record and call.start < limit and not record.invoice_id and record not in late:
                    found.append(f"call {call_id} of {call.start}: too late and not flagged")
        # Each document's usage lines add up the calls linked to it.
        linked = {}
        for record in records:
            if record.invoice_id:
                linked.setdefault(record.invoice_id.id, []).append(
                    self.calls[record.supplier_call_id]
                )
        for move in docs.filtered(lambda m: not m.reversed_entry_id):
            usage = move.invoice_line_ids.filtered(lambda ln: ln.rebilling_line_kind == "usage")
            calls = linked.get(move.id, [])
            amount = round(sum(usage.mapped("price_subtotal")), 2)
            expected = sum(self.call_price(c) for c in calls)
            if abs(self._sign(move) * amount - expected) > 0.01 * len(usage) / 2 + 0.005:
                found.append(
                    f"{move.name}: usage {amount} != its {len(calls)} calls {expected:.4f}"
                )
            count = sum(usage.mapped("rebilling_call_count"))
            if count != len(calls):
                found.append(f"{move.name}: {count} calls on its lines, {len(calls)} linked")
        self._freeze_billed_calls(records)
        return found

    def _imported_before_last_run(self, call):
        return call.call_id in self.billable_at_last_run

    @property
    def billable_at_last_run(self):
        return self.__dict__.setdefault("_billable", set())

    def mark_run_calls(self):
        """Calls a run should bill: imported before it, within its late window."""
        if not self.last_run:
            return
        earliest = datetime.combine(self.last_run - relativedelta(months=4), datetime.min.time())
        for call_id, call in self.calls.items():
            if earliest <= call.start:
                self.billable_at_last_run.add(call_id)


def run_steps(ledger, steps, check="step", stop=True):
    """Apply ``steps``; check after each step that changes documents (``check="step"``,
    see DOCUMENT_KINDS) or after each run (``"run"``).

    Returns ``(violations, step log)``: at the first step that breaks an invariant
    with ``stop``, else all the violations found on the way.
    """
    with ledger.running_clock():
        return _run_steps(ledger, steps, check, stop)


def _run_steps(ledger, steps, check, stop):
    violations = []
    for step in steps:
        done = ledger.apply(step)
        if done is None:
            continue
        if done.startswith("run "):
            ledger.mark_run_calls()
        elif check == "run" or ledger.last_kind not in DOCUMENT_KINDS:
            continue
        found = ledger.violations()
        if found and stop:
            return found, ledger.log
        violations.extend(v for v in found if v not in violations)
    return violations, ledger.log


# ------------------------------------------------------------------ fixture
def setup_fixture(env, customers):
    """Company configuration, products, the rate plan, customers with a voice number."""
    from odoo import Command

    company = env.ref("base.main_company")
    company.write(
        {
            "rebilling_company_name": "Ledger Reseller",
            "rebilling_phone": "02 9000 0000",
            "rebilling_abn": "51 824 753 556",
            "rebilling_bank_account_name": "Ledger",
            "rebilling_bsb": "062000",
            "rebilling_bank_account_number": "1234",
            "rebilling_sender_email": "billing@ledger.example.com",
            "rebilling_invoice_prefix": "LED-",
            "rebilling_tz": "UTC",
            "rebilling_auto_invoice": False,
        }
    )
    company.rebilling_sender_confirmed = True
    gst = env["account.tax"].search(
        [("company_id", "=", company.id), ("type_tax_use", "=", "sale"), ("amount", "=", 10)],
        limit=1,
    )
    Product = env["product.product"]
    products = Product.create(
        [
            {
                "name": f"Ledger product {i}",
                "type": "service",
                "taxes_id": [Command.set(gst.ids)],
            }
            for i in range(3)
        ]
    )
    voice = Product.create(
        {
            "name": "Ledger voice usage",
            "type": "service",
            "rebilling_service_type": "voice",
            "taxes_id": [Command.set(gst.ids)],
        }
    )
    ref = env.ref
    plan = env["rebilling.rate.plan"].create(
        {
            "name": "Ledger plan",
            "rate_ids": [
                Command.create(
                    {
                        "destination_group_id": ref("rebilling_voip.dest_au_national").id,
                        "rate_per_minute": 0.10,
                        "first_block": 60,
                        "next_block": 60,
                    }
                ),
                Command.create(
                    {
                        "destination_group_id": ref("rebilling_voip.dest_au_mobile").id,
                        "rate_per_minute": 0.20,
                        "first_block": 30,
                        "next_block": 1,
                    }
                ),
            ],
        }
    )
    company.write({"rebilling_rate_plan_id": plan.id, "rebilling_voice_product_id": voice.id})
    review = env["rebilling.customer.class"].create(
        {
            "name": "Ledger reviewed",
            "company_id": company.id,
            "send_policy": "review",
            "review_hold_days": 5,
            "payment_term_days": 14,
        }
    )
    partners = env["res.partner"].create(
        [
            {
                "name": f"Ledger customer {i:04d}",
                "is_company": True,
                "email": f"c{i}@ledger.example.com",
                "rebilling_enabled": True,
                "rebilling_class_id": review.id if i % 2 else False,
            }
            for i in range(customers)
        ]
    )
    numbers = {p.id: f"+6129{8000000 + i:07d}" for i, p in enumerate(partners)}
    env["rebilling.service"].create(
        [
            {
                "partner_id": p.id,
                "product_id": voice.id,
                "price_unit": 0.0,
                "date_start": date(2020, 1, 1),
                "identifiers": numbers[p.id],
            }
            for p in partners
        ]
    )
    fmt = env["rebilling.cdr.format"].create(
        {"name": "Ledger CSV", "column_count": 6, "has_header": True}
    )
    fmt_sydney = env["rebilling.cdr.format"].create(
        {
            "name": "Ledger CSV (Sydney time)",
            "column_count": 6,
            "has_header": True,
            "timezone": "Australia/Sydney",
        }
    )
    approver = env["res.users"].create(
        {
            "name": "Ledger approver",
            "login": "ledger_approver",
            "company_id": company.id,
            "company_ids": [Command.set(company.ids)],
            "group_ids": [
                Command.link(ref("rebilling_review.group_rebilling_approver").id),
                Command.link(ref("account.group_account_invoice").id),
            ],
        }
    )
    return {
        "company": company,
        "products": products,
        "partners": partners,
        "numbers": numbers,
        "format": fmt,
        "format_sydney": fmt_sydney,
        "approver": approver,
    }
