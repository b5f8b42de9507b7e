"""Demo data: rate plans, a supplier format and two months of generated calls.

The calls are deterministic (seeded), about 100,000 of them, for the voice
services of the base demo company, with a few bad rows, duplicates and
unmatched calls. They go through the same COPY import as a real file.
"""

import logging
import random
import time
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, models

_logger = logging.getLogger(__name__)

DEMO_COMPANY = "Southern Cross Communications"
# Called numbers in the other forms carriers send (see ``_demo_csv``).
EXTRA_CALLED = ["000", "000", "112", "000", "61412555019", "61 2 9876 5432", "0044 20 7946 0011"]
CALLS_PER_NUMBER = 1800  # 30 customers x 2 numbers x 1800 = 108,000 calls
# Standard plan: group xmlid -> (method, per minute, flagfall, first, next, minimum, markup)
STANDARD = {
    "dest_au_local": ("per_minute", 0.0, 0.15, 60, 60, 0.0, 0.0),
    "dest_au_national": ("per_minute", 0.10, 0.0, 60, 60, 0.0, 0.0),
    "dest_au_mobile": ("per_minute", 0.20, 0.0, 30, 1, 0.0, 0.0),
    "dest_au_special": ("per_minute", 0.0, 0.25, 60, 60, 0.0, 0.0),
    "dest_int_zone1": ("per_minute", 0.08, 0.0, 60, 60, 0.10, 0.0),
    "dest_int_zone2": ("per_minute", 0.15, 0.0, 60, 60, 0.10, 0.0),
    "dest_int_zone3": ("cost_plus", 0.0, 0.0, 60, 60, 0.10, 35.0),
    "dest_int_zone4": ("cost_plus", 0.0, 0.0, 60, 60, 0.20, 50.0),
}
BUSINESS = {
    "dest_au_local": ("per_minute", 0.0, 0.10, 60, 60, 0.0, 0.0),
    "dest_au_national": ("per_minute", 0.08, 0.0, 30, 1, 0.0, 0.0),
    "dest_au_mobile": ("per_minute", 0.15, 0.0, 30, 1, 0.0, 0.0),
    "dest_au_special": ("per_minute", 0.0, 0.20, 60, 60, 0.0, 0.0),
    "dest_int_zone1": ("per_minute", 0.06, 0.0, 30, 1, 0.0, 0.0),
    "dest_int_zone2": ("per_minute", 0.12, 0.0, 30, 1, 0.0, 0.0),
    "dest_int_zone3": ("cost_plus", 0.0, 0.0, 60, 60, 0.05, 25.0),
    "dest_int_zone4": ("cost_plus", 0.0, 0.0, 60, 60, 0.10, 40.0),
}
# Wholesale cost per minute by kind of destination
COST_PER_MINUTE = {
    "local": 0.01,
    "national": 0.02,
    "mobile": 0.04,
    "special": 0.05,
    "int": 0.06,
    "none": 0.5,
}


class RebillingVoipDemo(models.AbstractModel):
    _name = "rebilling.voip.demo"
    _description = "Rebilling VoIP demo data"

    @api.model
    def _called_pool(self, rng):
        """[(kind, number as suppliers write it)] of ~4,000 destinations."""
        pool = []
        for _i in range(900):
            pool.append(("local", f"02 9{rng.randint(0, 9999999):07d}"))
        for _i in range(600):
            area, first = rng.choice([("03", "9"), ("07", "3"), ("08", "8"), ("02", "4")])
            kind = "local" if area == "02" else "national"
            pool.append((kind, f"{area} {first}{rng.randint(0, 9999999):07d}"))
        for _i in range(1500):
            pool.append(("mobile", f"04{rng.randint(0, 99999999):08d}"))
        for _i in range(300):
            head = rng.choice(["13 ", "1300 ", "1800 "])
            pool.append(("special", f"{head}{rng.randint(0, 999999):06d}"))
        intl = [
            ("+44 20 7946 ", 4),
            ("+1 415 555 ", 4),
            ("+64 9 3", 6),
            ("+86 10 ", 8),
            ("+91 22 ", 8),
            ("+27 21 ", 7),
            ("+65 6", 7),
            ("0011 44 161 ", 7),
        ]
        for _i in range(400):
            head, digits = rng.choice(intl)
            pool.append(("int", head + str(rng.randint(0, 10**digits - 1)).zfill(digits)))
        return pool

    @api.model
    def _demo_csv(self, callers, start, end, rng):
        """The CSV text of the demo calls: header, calls, a few duplicates and bad rows."""
        pool = self._called_pool(rng)
        kinds_weights = [0.30, 0.15, 0.40, 0.07, 0.08]
        by_kind = {}
        for kind, number in pool:
            by_kind.setdefault(kind, []).append(number)
        kinds = ["local", "national", "mobile", "special", "int"]
        span = int((end - start).total_seconds())
        lines = ["start_time,duration,caller,called,call_id,cost"]
        seq = 0
        for caller in callers:
            for _j in range(CALLS_PER_NUMBER):
                seq += 1
                kind = rng.choices(kinds, kinds_weights)[0]
                called = rng.choice(by_kind[kind])
                when = start + timedelta(seconds=rng.randrange(span))
                duration = min(int(rng.expovariate(1 / 150.0)) + 1, 7200)
                cost = round(duration / 60.0 * COST_PER_MINUTE[kind], 4)
                shown = caller if seq % 3 else f"0{caller[3:]}"  # some in national format
                lines.append(
                    f"{when:%Y-%m-%d %H:%M:%S},{duration},{shown},{called},DEMO-{seq:08d},{cost}"
                )
        # Calls no service claims, and calls to numbers no destination group covers.
        for k in range(150):
            seq += 1
            when = start + timedelta(seconds=rng.randrange(span))
            if k % 2:
                caller, called = "+61299999999", rng.choice(by_kind["mobile"])
            else:
                caller, called = callers[k % len(callers)], f"1900 {rng.randint(0, 999999):06d}"
            lines.append(f"{when:%Y-%m-%d %H:%M:%S},{60 + k},{caller},{called},DEMO-{seq:08d},0.5")
        # Numbers as Australian carriers also send them: emergency 000 (and 112 from a
        # mobile), rated free; 61 without the plus; international with the 00 IDD.
        for k, called in enumerate(EXTRA_CALLED):
            seq += 1
            when = start + timedelta(seconds=rng.randrange(span))
            caller = callers[(k * 7) % len(callers)]
            lines.append(f"{when:%Y-%m-%d %H:%M:%S},{45 + k},{caller},{called},DEMO-{seq:08d},0")
        # The supplier sent a few calls twice.
        lines.extend(lines[1000:1010])
        # And a few rows nobody can read.
        lines.extend(
            [
                "2026-13-45 10:00:00,60,+61290000000,0412345678,DEMO-BAD-1,0.02",
                "yesterday,60,+61290000000,0412345678,DEMO-BAD-2,0.02",
                f"{start:%Y-%m-%d} 10:00:00,-30,+61290000000,0412345678,DEMO-BAD-3,0.02",
                f"{start:%Y-%m-%d} 10:05:00,1m20s,+61290000000,0412345678,DEMO-BAD-4,0.02",
                f"{start:%Y-%m-%d} 10:10:00,60,+61290000000,call me maybe,DEMO-BAD-5,0.02",
                f"{start:%Y-%m-%d} 10:15:00,60,+61290000000,12,DEMO-BAD-6,0.02",
                f"{start:%Y-%m-%d} 10:20:00,60,+61290000000,0412345678",
                f"{start:%Y-%m-%d} 10:25:00,60,+61290000000,0412345678,DEMO-BAD-8,0.02,extra",
            ]
        )
        return "\n".join(lines) + "\n"

    @api.model
    def _create_rate_plan(self, company, name, rates, changes=None):
        lines = []
        for xmlid, (method, per_minute, flagfall, first, nxt, minimum, markup) in rates.items():
            lines.append(
                {
                    "destination_group_id": self.env.ref(f"rebilling_voip.{xmlid}").id,
                    "date_from": date(2000, 1, 1),
                    "method": method,
                    "rate_per_minute": per_minute,
                    "flagfall": flagfall,
                    "first_block": first,
                    "next_block": nxt,
                    "minimum_charge": minimum,
                    "markup_percent": markup,
                }
            )
        for xmlid, date_from, per_minute in changes or []:
            base = dict(lines[list(rates).index(xmlid)])
            base.update(date_from=date_from, rate_per_minute=per_minute)
            lines.append(base)
        return self.env["rebilling.rate.plan"].create(
            {
                "name": name,
                "company_id": company.id,
                "rate_ids": [(0, 0, vals) for vals in lines],
            }
        )

    @api.model
    def _create_demo_data(self):
        started = time.monotonic()
        company = self.env["res.company"].search([("name", "=", DEMO_COMPANY)], limit=1)
        if not company:
            _logger.warning("rebilling_voip demo: company %s not found", DEMO_COMPANY)
            return False
        env = self.env(context=dict(self.env.context, allowed_company_ids=[company.id]))
        demo = self.with_env(env)
        company.rebilling_tz = "Australia/Sydney"
        today = date.today()
        this_month = today.replace(day=1)
        last_month = this_month - relativedelta(months=1)
        voice = env["product.product"].search(
            [("company_id", "=", company.id), ("default_code", "=", "VOICE")], limit=1
        )
        voice.rebilling_voice_usage = True
        standard = demo._create_rate_plan(
            company,
            "Standard",
            STANDARD,
            # Mobile calls got cheaper from the 15th of last month.
            changes=[("dest_au_mobile", last_month + timedelta(days=14), 0.18)],
        )
        business = demo._create_rate_plan(company, "Business", BUSINESS)
        company.write(
            {"rebilling_rate_plan_id": standard.id, "rebilling_voice_product_id": voice.id}
        )
        services = env["rebilling.service"].search(
            [("company_id", "=", company.id), ("product_id", "=", voice.id)], order="id"
        )
        for i, partner in enumerate(services.partner_id):
            if i % 3 == 0:
                partner.rebilling_rate_plan_id = business
        callers = [ident for service in services for ident in service._identifier_list()]
        if not callers:
            _logger.warning("rebilling_voip demo: no voice service with numbers, no calls")
            return False
        env.flush_all()
        fmt = env["rebilling.cdr.format"].create(
            {
                "name": "Demo wholesale (CSV)",
                "company_id": company.id,
                "delimiter": "comma",
                "has_header": True,
                "column_count": 6,
                "date_format": "iso",
                "timezone": "UTC",
            }
        )
        env["rebilling.cdr.format"].create(
            {
                "name": "Demo supplier B (semicolon, day first, Sydney time)",
                "company_id": company.id,
                "delimiter": "semicolon",
                "has_header": False,
                "column_count": 7,
                "col_start": 2,
                "col_duration": 3,
                "col_caller": 4,
                "col_called": 5,
                "col_call_id": 1,
                "col_cost": 7,
                "col_trunk": 6,
                "date_format": "dmy",
                "timezone": "Australia/Sydney",
            }
        )
        rng = random.Random(20260101)
        start = company._rebilling_day_start_utc(last_month)
        end = datetime.combine(today, datetime.min.time())
        data = demo._demo_csv(callers, start, end, rng)
        Import = env["rebilling.cdr.import"]
        imp = Import._import_file(fmt, data.encode(), f"demo_calls_{last_month:%Y%m}.csv")
        rated = env["rebilling.cdr"]._rate(company)
        _logger.info(
            "rebilling_voip demo: %s rows, %s imported, %s duplicates, %s errors, "
            "%s rated in %.1fs",
            imp.row_count,
            imp.imported_count,
            imp.duplicate_count,
            imp.error_count,
            rated,
            time.monotonic() - started,
        )
        return imp
