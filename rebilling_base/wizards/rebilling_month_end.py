"""Month end: what would block or spoil the next billing run, shown before it starts."""

from datetime import date, datetime

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import format_date

from ..models.rebilling_billing_run import month_bounds

SEVERITIES = [
    ("block", "Blocks the run"),
    ("spoil", "Spoils the month"),
    ("check", "To check"),
]


class RebillingMonthEnd(models.TransientModel):
    """The readiness of a company's next billing run.

    Each check is a line with a count, the amount at stake where there is one
    and a button to the records to fix. The checks come from
    ``_rebilling_readiness_checks``, which every addon extends with its own.
    """

    _name = "rebilling.month.end"
    _inherit = ["rebilling.company.mixin"]
    _description = "Month End Readiness"

    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    period_start = fields.Date("Billing Month", readonly=True)
    usage_start = fields.Date("Usage From", readonly=True)
    usage_end = fields.Date("Usage To", readonly=True)
    run_label = fields.Char("Next Run", readonly=True)
    line_ids = fields.One2many("rebilling.month.end.line", "month_end_id", "To Fix")
    line_count = fields.Integer("Things to fix", compute="_compute_line_count")

    @api.depends("period_start")
    def _compute_display_name(self):
        for wizard in self:
            month = (
                format_date(self.env, wizard.period_start, date_format="MMMM y")
                if wizard.period_start
                else ""
            )
            wizard.display_name = self.env._("Month End: %(month)s", month=month)

    @api.depends("line_ids")
    def _compute_line_count(self):
        for wizard in self:
            wizard.line_count = len(wizard.line_ids)

    # ------------------------------------------------------------ the next run
    @api.model
    def _rebilling_next_period(self, company, now=None):
        """First day of the month the company's next run bills (its local calendar).

        The run of this month until it has started within its window (1st to
        3rd), else next month's.
        """
        local = company._rebilling_local_now(now).date()
        this_month = local.replace(day=1)
        if local.day <= 3:
            started = self.env["rebilling.billing.run"].search_count(
                [
                    ("company_id", "=", company.id),
                    ("period_start", "=", this_month),
                    ("dry_run", "=", False),
                    ("state", "!=", "draft"),
                ],
                limit=1,
            )
            if not started:
                return this_month
        return this_month + relativedelta(months=1)

    @api.model
    def _rebilling_vals(self, company, now=None):
        period = self._rebilling_next_period(company, now)
        usage_start, usage_end = month_bounds(period - relativedelta(months=1))
        return {
            "company_id": company.id,
            "period_start": period,
            "usage_start": usage_start,
            "usage_end": usage_end,
            "run_label": self.env._(
                "%(day)s at %(hour)02d:00 (%(tz)s)",
                day=format_date(self.env, period, date_format="long"),
                hour=company.rebilling_run_hour,
                tz=company.rebilling_tz,
            ),
        }

    @api.model
    def _rebilling_build(self, company, now=None):
        """A readiness record of ``company``'s next run, its checks computed now."""
        month_end = self.create(self._rebilling_vals(company, now))
        month_end._rebilling_refresh()
        return month_end

    @api.model
    def _rebilling_checks_of(self, company, now=None):
        """The listed checks of ``company``'s next run, without storing them (the Summary)."""
        return self.new(self._rebilling_vals(company, now))._rebilling_listed_checks()

    def _rebilling_listed_checks(self):
        """The checks that count something, most serious first."""
        self.ensure_one()
        customers = self._rebilling_billable_customers()
        checks = self.with_context(rebilling_billable_customers=customers)
        checks = [c for c in checks._rebilling_readiness_checks() if c.get("count")]
        order = {code: index for index, (code, _label) in enumerate(SEVERITIES)}
        checks.sort(key=lambda c: (order[c.get("severity", "check")], c.get("sequence", 10)))
        return checks

    def _rebilling_refresh(self):
        self.ensure_one()
        self.line_ids.unlink()
        self.env["rebilling.month.end.line"].create(
            [
                {
                    "month_end_id": self.id,
                    "sequence": index,
                    "code": check["code"],
                    "severity": check.get("severity", "check"),
                    "name": check["name"],
                    "count": check["count"],
                    "amount": check.get("amount", 0.0),
                    "res_model": check.get("res_model"),
                    "domain": repr(self._rebilling_plain_domain(check.get("domain"))),
                    "open_method": check.get("open_method"),
                }
                for index, check in enumerate(self._rebilling_listed_checks())
            ]
        )

    @api.model
    def _rebilling_plain_domain(self, domain):
        """``domain`` with dates and times as strings (kept as text, opened by the client)."""
        return [
            (leaf[0], leaf[1], self._rebilling_plain_value(leaf[2]))
            if isinstance(leaf, (list, tuple))
            else leaf
            for leaf in domain or []
        ]

    @api.model
    def _rebilling_plain_value(self, value):
        if isinstance(value, datetime):
            return fields.Datetime.to_string(value)
        if isinstance(value, date):
            return fields.Date.to_string(value)
        if isinstance(value, (list, tuple)):
            return [self._rebilling_plain_value(item) for item in value]
        return value

    @api.model
    def action_rebilling_open(self):
        """Rebilling > Month end: the current company's readiness (the configuration form
        first while it is incomplete, as every Rebilling page)."""
        gate = self.env.company._rebilling_gate_action()
        if gate:
            return gate
        month_end = self._rebilling_build(self.env.company)
        return month_end._rebilling_form_action()

    def _rebilling_form_action(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Month end"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }

    def action_refresh(self):
        self.ensure_one()
        self._rebilling_refresh()
        return self._rebilling_form_action()

    # ------------------------------------------------------------ checks
    def _rebilling_billable_customers(self):
        """Enabled customers of the company with a service or charge billed by the next run."""
        self.ensure_one()
        if "rebilling_billable_customers" in self.env.context:
            return self.env.context["rebilling_billable_customers"]
        company = self.company_id
        partners = self.env["res.partner"].search(
            [("rebilling_enabled", "=", True), ("company_id", "in", [company.id, False])]
        )
        period_start, period_end = month_bounds(self.period_start)
        ids = set()
        for model in ("rebilling.service", "rebilling.charge"):
            Model = self.env[model]
            domain = [
                ("company_id", "=", company.id),
                *Model._billable_domain(partners, period_start, period_end),
            ]
            ids.update(partner.id for [partner] in Model._read_group(domain, ["partner_id"]))
        return self.env["res.partner"].browse(sorted(ids))

    def _rebilling_readiness_checks(self):
        """Extend for an addon's own checks of the next run (call ``super()``).

        Returns a list of dicts: ``code``, ``name`` (what is wrong, for the user),
        ``severity`` (``block``, ``spoil`` or ``check``), ``count``, optional
        ``amount`` (at stake, company currency), and where to fix it: either
        ``res_model`` and ``domain`` (a list of the records) or ``open_method``
        (a method of this model returning an action). Checks with no count are
        not listed.
        """
        self.ensure_one()
        company = self.company_id
        customers = self._rebilling_billable_customers()
        checks = []
        missing = [line for line in (company.rebilling_config_missing or "").splitlines() if line]
        checks.append(
            {
                "code": "configuration",
                "severity": "block",
                "name": self.env._("The configuration is not complete: %s", ", ".join(missing)),
                "count": len(missing),
                "open_method": "_rebilling_open_configuration",
            }
        )
        if company.rebilling_sender_email and not company.rebilling_sender_confirmed:
            checks.append(
                {
                    "code": "sender",
                    "severity": "block",
                    "name": self.env._(
                        "The sender email %s is not confirmed: no invoice is emailed.",
                        company.rebilling_sender_email,
                    ),
                    "count": 1,
                    "open_method": "_rebilling_open_configuration",
                }
            )
        no_email = customers.filtered(lambda p: not p._rebilling_email())
        checks.append(
            {
                "code": "no_email",
                "severity": "spoil",
                "name": self.env._("Customers to be billed without an invoice email"),
                "count": len(no_email),
                "res_model": "res.partner",
                "domain": [("id", "in", no_email.ids)],
            }
        )
        abn = customers.filtered(
            lambda p: (
                p.rebilling_abn_status in ("cancelled", "not_found")
                or (p.rebilling_abn_status == "active" and not p.rebilling_abn_gst)
            )
        )
        checks.append(
            {
                "code": "abn",
                "severity": "check",
                "name": self.env._(
                    "Customers whose ABN is cancelled, not found or not registered for GST "
                    "(nightly ABN Lookup)"
                ),
                "count": len(abn),
                "res_model": "res.partner",
                "domain": [("id", "in", abn.ids)],
            }
        )
        checks.append(self._rebilling_check_once_off_on_ended_services())
        checks.extend(self._rebilling_check_last_month())
        checks.append(self._rebilling_check_back_billing())
        return checks

    def _rebilling_check_back_billing(self):
        """Services and charges entered late whose missed days go beyond the company's
        catch-up limit: the next run names that amount on the invoice and flags it."""
        run = self.env["rebilling.billing.run"].new(
            {"company_id": self.company_id.id, "period_start": self.period_start}
        )
        customers = self._rebilling_billable_customers()
        skipped = self.env["rebilling.adjustment"]._catch_up_skipped(run, customers)
        skipped = {pid: amount for pid, amount in skipped.items() if amount}
        return {
            "code": "back_billing",
            "severity": "check",
            "name": self.env._(
                "Customers with services or charges entered late beyond the catch-up limit "
                "(%s months): the older days are not billed, the invoice names them",
                self.company_id.rebilling_catch_up_months,
            ),
            "count": len(skipped),
            "amount": sum(skipped.values()),
            "res_model": "res.partner",
            "domain": [("id", "in", sorted(skipped))],
        }

    def _rebilling_check_once_off_on_ended_services(self):
        period_start, period_end = month_bounds(self.period_start)
        domain = [
            ("company_id", "=", self.company_id.id),
            ("charge_type", "=", "once"),
            ("invoiced", "=", False),
            ("date_start", "<=", period_end),
            ("service_id.date_end", "<", period_start),
        ]
        charges = self.env["rebilling.charge"].search_fetch(domain, ["quantity", "price_unit"])
        count, amount = len(charges), sum(c.quantity * c.price_unit for c in charges)
        return {
            "code": "once_off_ended",
            "severity": "check",
            "name": self.env._("Once-off charges on ended services"),
            "count": count,
            "amount": amount or 0.0,
            "res_model": "rebilling.charge",
            "domain": domain,
        }

    def _rebilling_last_month_moves_domain(self):
        """The company's invoices and credit notes of the month before the next run."""
        return [
            ("company_id", "=", self.company_id.id),
            ("rebilling_period", "=", self.period_start - relativedelta(months=1)),
            ("move_type", "in", ("out_invoice", "out_refund")),
            ("state", "=", "posted"),
        ]

    def _rebilling_check_last_month(self):
        Move = self.env["account.move"]
        base = self._rebilling_last_month_moves_domain()
        unsent = [*base, ("rebilling_send_state", "not in", ("sent", "cancelled"))]
        [(count, amount)] = Move._read_group(unsent, [], ["__count", "amount_total_signed:sum"])
        checks = [
            {
                "code": "last_month_unsent",
                "severity": "spoil",
                "name": self.env._("Invoices of last month not sent yet"),
                "count": count,
                "amount": amount or 0.0,
                "res_model": "account.move",
                "domain": unsent,
            }
        ]
        return checks

    def _rebilling_open_configuration(self):
        return self.company_id.action_rebilling_configuration()

    # ------------------------------------------------------------ daily digest
    @api.model
    def _rebilling_digest_due(self, company, now=None):
        """Whether the digest of ``company`` is due today: from its configured number of
        days before the next run until the run starts."""
        local = company._rebilling_local_now(now).date()
        period = self._rebilling_next_period(company, now)
        first_day = period - relativedelta(days=company.rebilling_digest_days)
        return local >= first_day

    @api.model
    def _cron_rebilling_digest(self, now=None):
        """Daily: email each company's notification address what would spoil its next
        run, from its digest day on, only when something is listed."""
        companies = self.env["res.company"].search([("rebilling_notification_email", "!=", False)])
        for company in companies:
            if not self._rebilling_digest_due(company, now):
                continue
            month_end = self.with_company(company)._rebilling_build(company, now)
            if month_end.line_ids:
                month_end._rebilling_send_digest()

    def _rebilling_send_digest(self):
        self.ensure_one()
        company = self.company_id
        body = self.env["ir.qweb"]._render(
            "rebilling_base.rebilling_month_end_digest", {"month_end": self}
        )
        return company._rebilling_notify_email(
            company.partner_id,
            self.env._(
                "Month end: %(count)s to fix before the run of %(run)s",
                count=len(self.line_ids),
                run=self.run_label,
            ),
            body,
        )
