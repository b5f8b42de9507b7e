"""Month end: the calls of the usage month that would be billed wrongly, or not at all."""

from dateutil.relativedelta import relativedelta

from odoo import models
from odoo.tools import SQL, format_date


class RebillingMonthEnd(models.TransientModel):
    _inherit = "rebilling.month.end"

    def _rebilling_usage_call_domain(self):
        """The company's calls of the next run's usage month (company time zone)."""
        self.ensure_one()
        start, end = self.company_id._rebilling_days_utc(self.usage_start, self.usage_end)
        return [
            ("company_id", "=", self.company_id.id),
            ("start_time", ">=", start),
            ("start_time", "<", end),
        ]

    def _rebilling_readiness_checks(self):
        checks = super()._rebilling_readiness_checks()
        Cdr = self.env["rebilling.cdr"]
        usage = self._rebilling_usage_call_domain()
        groups = Cdr._read_group(
            [*usage, ("state", "in", ("new", "unmatched", "error"))],
            ["state", "service_id"],
            ["__count"],
        )

        def count_of(state, with_service=None):
            return sum(
                count
                for st, service, count in groups
                if st == state and (with_service is None or bool(service) == with_service)
            )

        checks += [
            {
                "code": "unmatched_calls",
                "severity": "spoil",
                "name": self.env._("Calls of the usage month from numbers no service has"),
                "count": count_of("unmatched", with_service=False),
                "res_model": "rebilling.cdr",
                "domain": [*usage, ("state", "=", "unmatched"), ("service_id", "=", False)],
            },
            {
                "code": "unrated_calls",
                "severity": "check",
                "name": self.env._("Calls of the usage month not rated yet"),
                "count": count_of("new"),
                "res_model": "rebilling.cdr",
                "domain": [*usage, ("state", "=", "new")],
            },
            {
                "code": "no_rate_calls",
                "severity": "spoil",
                "name": self.env._(
                    "Calls of the usage month whose destination has no rate in the customer's plan"
                ),
                "count": count_of("error"),
                "res_model": "rebilling.cdr",
                "domain": [*usage, ("state", "=", "error")],
            },
        ]
        checks += self._rebilling_check_silent_suppliers()
        checks.append(self._rebilling_check_too_late_calls())
        return checks

    def _rebilling_check_too_late_calls(self):
        """Calls too old for any period the next run still bills: never billed unless
        someone bills them by hand (the run's "Calls too late", before the run)."""
        run = self.env["rebilling.billing.run"].new(
            {"company_id": self.company_id.id, "period_start": self.period_start}
        )
        domain = run._late_call_domain()
        return {
            "code": "too_late_calls",
            "severity": "spoil",
            "name": self.env._("Calls too late for any period the next run bills"),
            "count": self.env["rebilling.cdr"].search_count(domain),
            "res_model": "rebilling.cdr",
            "domain": domain,
        }

    def _rebilling_check_silent_suppliers(self):
        """Suppliers (CDR formats) whose calls stop before the end of the usage month.

        A format with calls in the month before the usage month or in it, whose
        last call is on an earlier day than the usage month's last: its files
        have probably stopped arriving.
        """
        self.ensure_one()
        company = self.company_id
        since, end = company._rebilling_days_utc(
            self.usage_start - relativedelta(months=1), self.usage_end
        )
        last_day_start = company._rebilling_days_utc(self.usage_end, None)[0]
        self.env["rebilling.cdr"].flush_model(["company_id", "format_id", "start_time"])
        self.env.cr.execute(
            SQL(
                """SELECT format_id, max(start_time) FROM rebilling_cdr
                    WHERE company_id = %s AND start_time >= %s AND start_time < %s
                      AND format_id IS NOT NULL
                 GROUP BY format_id HAVING max(start_time) < %s""",
                company.id,
                since,
                end,
                last_day_start,
            )
        )
        rows = self.env.cr.fetchall()
        formats = self.env["rebilling.cdr.format"].browse([row[0] for row in rows]).exists()
        checks = []
        for format_id, last in rows:
            fmt = formats.filtered(lambda f, format_id=format_id: f.id == format_id)
            if not fmt:
                continue
            last_local = company._rebilling_local_now(last).date()
            checks.append(
                {
                    "code": f"silent_supplier_{format_id}",
                    "severity": "spoil",
                    "name": self.env._(
                        "No calls from %(supplier)s since %(day)s",
                        supplier=fmt.display_name,
                        day=format_date(self.env, last_local),
                    ),
                    "count": 1,
                    "res_model": "rebilling.cdr.format",
                    "domain": [("id", "=", format_id)],
                }
            )
        return checks
