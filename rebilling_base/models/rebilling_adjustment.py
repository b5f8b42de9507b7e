"""Catch-up and credit lines of a billing run (kept out of the run's own code).

- Catch-up: a service or recurring charge entered after a past run started,
  with a start date inside that run's month, was missed by it: the next run
  bills the missed days, labelled with their dates.
- Credit: a service or recurring charge billed in advance whose end date is
  set afterwards inside the billed days gets a credit line for the unused days
  on the next invoice (once per billed line).
"""

from collections import defaultdict

from dateutil.relativedelta import relativedelta

from odoo import api, models
from odoo.tools import float_is_zero, float_round, format_date, formatLang

from .account_move import REISSUE_CONTEXT
from .rebilling_billing_run import month_bounds

# How far back the credits of ended services look (billed lines of these months).
CREDIT_LOOKBACK_MONTHS = 12


def days_between(first, last):
    return (last - first).days + 1


class RebillingAdjustment(models.AbstractModel):
    _name = "rebilling.adjustment"
    _description = "Rebilling catch-up and credit lines"

    @api.model
    def _lines(self, run, partners):
        """Catch-up and credit line values per partner id (extend for more adjustments)."""
        result = defaultdict(list)
        for pid, vals in self._catch_up_lines(run, partners).items():
            result[pid].extend(vals)
        for pid, vals in self._credit_lines(run, partners).items():
            result[pid].extend(vals)
        return result

    @api.model
    def _credit_note_if_negative(self, vals):
        """Invoice values whose lines sum below zero (credits larger than the month's
        charges) become a credit note of the opposite lines: Odoo posts no negative
        invoice. Other values are returned as they are."""
        lines = [cmd[2] for cmd in vals.get("invoice_line_ids", []) if cmd[0] == 0]
        untaxed = sum(line.get("quantity", 1.0) * line.get("price_unit", 0.0) for line in lines)
        if vals.get("move_type") != "out_invoice" or untaxed >= 0:
            return vals
        for line in lines:
            line["price_unit"] = -line.get("price_unit", 0.0)
        return dict(vals, move_type="out_refund")

    @api.model
    def _amount_vals(self, price_unit, quantity, days, month_days, currency):
        """The quantity and unit price of a line billing ``days`` of a month of
        ``month_days`` days at ``quantity`` x the monthly ``price_unit`` (negative: a
        credit). The one rule of every service, recurring, catch-up and credit line.

        The amount is ``price_unit x quantity x days / month_days``, rounded once, to
        the cent: the unit price is never rounded before it is multiplied by the
        quantity. The line keeps the quantity when the prorated unit price (at the
        unit price precision) times the quantity gives that amount, else it bills
        1 x the amount and ``note`` says "quantity x monthly price" for the label.
        Returns ``(vals, note)``; ``vals`` has ``quantity``, ``price_unit`` and
        ``rebilling_month_amount`` (the line's full-month value, for later credits).
        """
        month_amount = price_unit * quantity
        vals = {"rebilling_month_amount": month_amount}
        if float_is_zero(quantity, precision_digits=6):
            digits = self.env["decimal.precision"].precision_get("Product Price")
            unit = float_round(price_unit * days / month_days, precision_digits=digits)
            return dict(vals, quantity=quantity, price_unit=unit), ""
        amount = currency.round(month_amount * days / month_days)
        amounts = self._quantity_price_vals(quantity, amount, currency)
        if amounts["quantity"] == quantity:
            return dict(vals, **amounts), ""
        note = self.env._(
            "%(quantity)s x %(price)s",
            quantity=formatLang(self.env, quantity, dp="Product Unit"),
            price=formatLang(self.env, abs(price_unit), currency_obj=currency),
        )
        return dict(vals, **amounts), note

    @api.model
    def _quantity_price_vals(self, quantity, amount, currency):
        """``{quantity, price_unit}`` of a line of ``amount`` (to the cent) at ``quantity``:
        the quantity is kept when a unit price (at the unit price precision) times it gives
        the amount exactly, else the line is 1 x the amount."""
        digits = self.env["decimal.precision"].precision_get("Product Price")
        if not float_is_zero(quantity, precision_digits=6):
            unit = float_round(amount / quantity, precision_digits=digits)
            if not currency.compare_amounts(unit * quantity, amount):
                return {"quantity": quantity, "price_unit": unit}
        return {"quantity": 1.0, "price_unit": amount}

    @api.model
    def _dates_label(self, partner, first, last):
        env = self.with_context(lang=partner.lang or self.env.lang).env
        return f"{format_date(env, first)} - {format_date(env, last)}"

    # ------------------------------------------------------------ catch-up
    @api.model
    def _past_runs(self, run):
        return run.search(
            [
                ("company_id", "=", run.company_id.id),
                ("dry_run", "=", False),
                ("state", "=", "done"),
                ("period_start", "<", run.period_start),
                ("date_started", "!=", False),
            ],
            order="period_start",
        )

    @api.model
    def _catch_up_limit(self, run):
        """The first month a catch-up of ``run`` bills: the company's limit in months
        before the run's month (``rebilling_catch_up_months``; 0: no limit). Extend for
        another limit."""
        months = run.company_id.rebilling_catch_up_months
        return run.period_start - relativedelta(months=months) if months else None

    @api.model
    def _catch_up_skipped(self, run, partners):
        """Amount of the missed days beyond the catch-up limit per partner id: not billed,
        named on the invoice (``rebilling_catch_up_skipped``)."""
        return self._catch_up_lines(run, partners, beyond_limit=True)

    @api.model
    def _catch_up_lines(self, run, partners, beyond_limit=False):
        """Catch-up line values per partner id of the months within the catch-up limit;
        ``beyond_limit``: instead, the amount of the older missed days per partner id."""
        past = self._past_runs(run)
        if not past or not partners:
            return {}
        limit = self._catch_up_limit(run)
        company = run.company_id
        earliest = min(past.mapped("date_started"))
        # Entered after the first past run started, with days in the past runs' months.
        since, until = past[0].period_start, run.period_start - relativedelta(days=1)
        common = [("company_id", "=", company.id), ("create_date", ">", earliest)]
        services = self.env["rebilling.service"].search(
            [*common, *self.env["rebilling.service"]._billable_domain(partners, since, until)]
        )
        charges = self.env["rebilling.charge"].search(
            [
                *common,
                ("charge_type", "=", "recurring"),
                *self.env["rebilling.charge"]._billable_domain(partners, since, until),
            ]
        )
        billed = self._billed_periods(
            services,
            charges,
            [
                ("move_id.rebilling_period", ">=", past[0].period_start),
                ("move_id.rebilling_period", "<", run.period_start),
            ],
        )
        result = defaultdict(float) if beyond_limit else defaultdict(list)
        for source in [*services, *charges]:
            end = source._rebilling_date_end()
            for past_run in past:
                if source.create_date <= past_run.date_started:
                    continue  # it existed when that run billed: not entered late
                if (source._name, source.id, past_run.period_start) in billed:
                    continue
                if beyond_limit != bool(limit and past_run.period_start < limit):
                    continue
                first = max(source.date_start, past_run.period_start)
                last = min(end or past_run.period_end, past_run.period_end)
                if first > last:
                    continue
                month_days = days_between(*month_bounds(past_run.period_start))
                amounts, note = self._amount_vals(
                    source.price_unit,
                    source.quantity,
                    days_between(first, last),
                    month_days,
                    company.currency_id,
                )
                label = self.env._(
                    "%(name)s (catch-up %(dates)s, %(n)s/%(d)s days)",
                    name=source.name,
                    dates=self._dates_label(source.partner_id, first, last),
                    n=days_between(first, last),
                    d=month_days,
                )
                if note:
                    label = f"{label[:-1]}, {note})"
                if beyond_limit:
                    result[source.partner_id.id] += amounts["quantity"] * amounts["price_unit"]
                    continue
                vals = {
                    **amounts,
                    **source._rebilling_line_links(),
                    "product_id": source.product_id.id,
                    "name": label,
                    "rebilling_date_from": first,
                    "rebilling_date_to": last,
                }
                result[source.partner_id.id].append(vals)
        return result

    @api.model
    def _billed_periods(self, services, charges, domain):
        """{(model, id, month)} already billed by the posted lines matching ``domain``
        (on ``account.move.line``): the month of the line's billed days (a catch-up line
        bills an earlier month than its invoice)."""
        if not services and not charges:
            return set()
        lines = self.env["account.move.line"].search_fetch(
            [
                ("move_id.state", "=", "posted"),
                *self._charging_line_domain(),
                *domain,
                "|",
                "&",
                ("rebilling_service_id", "in", services.ids),
                ("rebilling_charge_id", "=", False),
                ("rebilling_charge_id", "in", charges.ids),
            ],
            ["rebilling_service_id", "rebilling_charge_id", "move_id", "rebilling_date_from"],
        )
        billed = set()
        for line in lines:
            period = (
                month_bounds(line.rebilling_date_from)[0]
                if line.rebilling_date_from
                else line.move_id.rebilling_period
            )
            if line.rebilling_charge_id:
                billed.add(("rebilling.charge", line.rebilling_charge_id.id, period))
            else:
                billed.add(("rebilling.service", line.rebilling_service_id.id, period))
        return billed

    @api.model
    def _not_billed_elsewhere(self, run, services, charges):
        """``(services, charges)`` of ``run``'s month less those whose days of that month
        another posted document bills already, the invoices being reissued
        (``REISSUE_CONTEXT``) excepted: a later run's catch-up of days the reissued
        invoice did not bill (the source was entered after its run). A month counts as
        billed as for a catch-up. Once-off charges are kept. Extend for other documents
        that bill a month's days."""
        reissued = list(self.env.context.get(REISSUE_CONTEXT) or ())
        billed = self._billed_periods(
            services,
            charges.filtered(lambda c: c.charge_type == "recurring"),
            [
                ("move_id", "not in", reissued),
                ("rebilling_date_from", ">=", run.period_start),
                ("rebilling_date_from", "<=", run.period_end),
            ],
        )
        month = run.period_start
        return (
            services.filtered(lambda s: ("rebilling.service", s.id, month) not in billed),
            charges.filtered(lambda c: ("rebilling.charge", c.id, month) not in billed),
        )

    # ------------------------------------------------------------ ledger
    @api.model
    def _charging_line_domain(self):
        """Lines that charge the customer: positive in an invoice, negative in a credit
        note (a month whose credits outweighed its charges is a credit note whose
        charges are its negative lines)."""
        return [
            "|",
            "&",
            ("move_id.move_type", "=", "out_invoice"),
            ("price_unit", ">", 0),
            "&",
            ("move_id.move_type", "=", "out_refund"),
            ("price_unit", "<", 0),
        ]

    @api.model
    def _billed_amount(self, line):
        """What ``line`` billed the customer (negative: credited), in its move's currency."""
        sign = -1.0 if line.move_id.move_type == "out_refund" else 1.0
        return sign * line.price_subtotal

    @api.model
    def _reversal_vals(self, line):
        """Values of the line of Odoo's Credit Note (a reversal) that credits ``line``
        beyond what the line copies: a credit note never credits more than the line still
        bills, net of what credited it before (credit lines of later runs for days no
        longer active, earlier credit notes of it): what is left, labelled with the
        documents that credited the rest. Extend for other limits of a credit."""
        if line.rebilling_credited_line_id or line.move_id.move_type != "out_invoice":
            return {}  # a credit line, or a charge of a credit note: reversed as it is
        currency = line.currency_id
        billed = self._billed_amount(line)
        remaining = max(self._net_billed(line), 0.0)
        if (
            currency.compare_amounts(billed, 0.0) <= 0
            or currency.compare_amounts(remaining, billed) >= 0
        ):
            return {}
        before = line.rebilling_credit_line_ids.filtered(lambda c: c.move_id.state == "posted")
        env = self.with_context(lang=line.move_id.partner_id.lang or self.env.lang).env
        name = env._(
            "%(name)s, less %(amount)s credited by %(documents)s",
            name=line.name,
            amount=formatLang(env, billed - remaining, currency_obj=currency),
            documents=", ".join(dict.fromkeys(before.move_id.mapped("name"))),
        )
        return {
            **self._quantity_price_vals(line.quantity, currency.round(remaining), currency),
            "discount": 0.0,
            "name": name,
        }

    @api.model
    def _net_billed(self, line):
        """What ``line`` billed, net of the posted lines that credit it (credit lines of
        later runs, Odoo credit notes of it), those of the invoices being reissued
        excepted (they are computed again)."""
        reissued = set(self.env.context.get(REISSUE_CONTEXT) or ())
        adjustments = line.rebilling_credit_line_ids.filtered(
            lambda c: c.move_id.state == "posted" and c.move_id.id not in reissued
        )
        return self._billed_amount(line) + sum(self._billed_amount(c) for c in adjustments)

    # ------------------------------------------------------------ credits
    @api.model
    def _credit_lines(self, run, partners):
        """Credit lines of billed days that are no longer active (an end date set after
        the days were billed): what a billed line still bills, net of its credits, above
        the value of its days still active. Once per day, whatever credited it before
        (a credit line of a run, or an Odoo credit note of the line)."""
        if not partners:
            return {}
        since = run.period_start - relativedelta(months=CREDIT_LOOKBACK_MONTHS)
        lines = self.env["account.move.line"].search(
            [
                ("move_id.partner_id", "in", partners.ids),
                ("move_id.company_id", "=", run.company_id.id),
                ("move_id.state", "=", "posted"),
                *self._charging_line_domain(),
                ("move_id.rebilling_period", ">=", since),
                ("move_id.rebilling_period", "<", run.period_start),
                ("rebilling_line_kind", "in", ("service", "recurring")),
                ("rebilling_date_to", "!=", False),
                ("rebilling_credited_line_id", "=", False),
                "|",
                ("rebilling_service_id.date_end", "!=", False),
                ("rebilling_charge_id.date_end", "!=", False),
            ]
        )
        currency = run.company_id.currency_id
        result = defaultdict(list)
        for line in lines:
            end = (line.rebilling_charge_id or line.rebilling_service_id)._rebilling_date_end()
            if not end or end >= line.rebilling_date_to:
                continue
            first = max(end + relativedelta(days=1), line.rebilling_date_from)
            unused = days_between(first, line.rebilling_date_to)
            covered = days_between(line.rebilling_date_from, line.rebilling_date_to)
            month_days = days_between(*month_bounds(line.rebilling_date_from))
            billed = self._billed_amount(line)
            month_amount = line.rebilling_month_amount or billed * month_days / covered
            quantity = line.quantity or 1.0
            amounts, note = self._amount_vals(
                -month_amount / quantity, quantity, unused, month_days, currency
            )
            # What is still billed above the value of the active days.
            due = currency.round(month_amount * (covered - unused) / month_days)
            remaining = currency.round(self._net_billed(line) - due)
            if currency.compare_amounts(remaining, 0.0) <= 0:
                continue
            value = -amounts["quantity"] * amounts["price_unit"]
            if abs(remaining - value) > 0.011:
                # Credited in part before (by hand or another end date): the rest.
                amounts, note = dict(amounts, quantity=1.0, price_unit=-remaining), ""
            partner = line.move_id.partner_id
            source = line.rebilling_charge_id or line.rebilling_service_id
            label = self.env._(
                "Credit %(name)s (unused %(dates)s, %(n)s days)",
                name=source.name,
                dates=self._dates_label(partner, first, line.rebilling_date_to),
                n=unused,
            )
            if note:
                label = f"{label[:-1]}, {note})"
            result[partner.id].append(
                {
                    **amounts,
                    "product_id": line.product_id.id,
                    "name": label,
                    "tax_ids": [(6, 0, line.tax_ids.ids)],
                    "rebilling_service_id": line.rebilling_service_id.id,
                    "rebilling_charge_id": line.rebilling_charge_id.id,
                    "rebilling_line_kind": line.rebilling_line_kind,
                    "rebilling_date_from": first,
                    "rebilling_date_to": line.rebilling_date_to,
                    "rebilling_credited_line_id": line.id,
                }
            )
        return result
