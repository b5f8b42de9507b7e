"""The monthly billing run: the run record, its states, its Summary and its start.

One run per company and period (the 1st of the invoiced month), never two real
runs per period; a preview (``dry_run``) computes the amounts and creates no
invoice. A run has a log line per customer (``rebilling.billing.run.line``):

- ``rebilling_billing_run_chunk.py``: the customers are billed in chunks,
  queue_job jobs or the pending-chunk cron, each committing on its own;
- ``rebilling_billing_run_invoice.py``: what a customer's invoice bills, and
  the override points of the invoice values.

The hourly cron starts each company's run on the 1st at its run hour.
"""

import calendar
import json
import logging
from collections import defaultdict

import psycopg2
from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date, format_datetime

from ..tools.transient import raise_if_transient

# Months drawn by the Summary's month-by-month graph (this one included).
GRAPH_MONTHS = 6

_logger = logging.getLogger(__name__)


def month_bounds(day):
    first = day.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


class RebillingBillingRun(models.Model):
    _name = "rebilling.billing.run"
    _description = "Rebilling Billing Run"
    _inherit = ["mail.thread", "rebilling.company.mixin"]
    _order = "period_start desc, id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    period_start = fields.Date(
        "Invoice Date",
        required=True,
        help="The 1st of the invoiced month. Services and recurring charges are billed in "
        "advance for this month, usage for the month before.",
    )
    period_end = fields.Date(compute="_compute_periods", store=True)
    usage_start = fields.Date("Usage From", compute="_compute_periods", store=True)
    usage_end = fields.Date("Usage To", compute="_compute_periods", store=True)
    dry_run = fields.Boolean(
        "Preview", readonly=True, help="A preview computes the amounts and creates no invoice."
    )
    state = fields.Selection(
        [("draft", "Draft"), ("running", "Running"), ("done", "Done")],
        default="draft",
        required=True,
        tracking=True,
        index=True,
    )
    line_ids = fields.One2many("rebilling.billing.run.line", "run_id", "Customer Log")
    invoice_ids = fields.One2many("account.move", "rebilling_run_id", "Invoices")
    customer_count = fields.Integer("Customers", compute="_compute_counts")
    invoice_count = fields.Integer(compute="_compute_counts")
    error_count = fields.Integer("Errors", compute="_compute_counts")
    pending_count = fields.Integer("Pending", compute="_compute_counts")
    progress = fields.Float(compute="_compute_counts")
    amount_untaxed = fields.Monetary("Untaxed", compute="_compute_counts")
    amount_total = fields.Monetary("Total", compute="_compute_counts")
    send_pending_count = fields.Integer("Pending Sending", compute="_compute_send_counts")
    send_queued_count = fields.Integer("Queued", compute="_compute_send_counts")
    send_sent_count = fields.Integer("Sent", compute="_compute_send_counts")
    send_failed_count = fields.Integer("Failed", compute="_compute_send_counts")
    send_progress = fields.Float(
        "Sending",
        compute="_compute_send_counts",
        help="Share of the invoices handed to sending that are done (sent or failed).",
    )
    previous_amount_total = fields.Monetary(
        "Previous Month", compute="_compute_previous_amount_total"
    )
    month_graph = fields.Text(
        "Month by Month",
        compute="_compute_month_graph",
        help="The total of this run against the company's runs of the months before.",
    )
    date_started = fields.Datetime("Started", readonly=True)
    date_finished = fields.Datetime("Finished", readonly=True)
    duration = fields.Float("Duration (s)", readonly=True, digits=(16, 1))

    _period_uniq = models.UniqueIndex(
        "(company_id, period_start) WHERE dry_run IS NOT TRUE",
        "There is already a billing run for this company and period.",
    )

    # ------------------------------------------------------------ computes
    @api.depends("period_start", "company_id", "dry_run")
    def _compute_name(self):
        for run in self:
            if not run.period_start:
                run.name = self.env._("New billing run")
                continue
            label = format_date(self.env, run.period_start, date_format="MMMM y")
            run.name = (
                self.env._("Preview %(period)s", period=label)
                if run.dry_run
                else self.env._("Billing run %(period)s", period=label)
            )

    @api.depends("period_start")
    def _compute_periods(self):
        for run in self:
            if run.period_start:
                run.period_end = month_bounds(run.period_start)[1]
                run.usage_start, run.usage_end = month_bounds(
                    run.period_start - relativedelta(months=1)
                )
            else:
                run.period_end = run.usage_start = run.usage_end = False

    @api.depends("line_ids.state", "line_ids.amount_untaxed", "line_ids.amount_total")
    def _compute_counts(self):
        data = defaultdict(dict)
        groups = self.env["rebilling.billing.run.line"]._read_group(
            [("run_id", "in", self.ids)],
            ["run_id", "state"],
            ["__count", "amount_untaxed:sum", "amount_total:sum"],
        )
        for run, state, count, untaxed, total in groups:
            data[run.id][state] = (count, untaxed, total)
        for run in self:
            states = data.get(run.id, {})
            run.customer_count = sum(v[0] for v in states.values())
            run.invoice_count = states.get("done", (0,))[0]
            run.error_count = states.get("error", (0,))[0]
            run.pending_count = states.get("pending", (0,))[0]
            done = run.customer_count - run.pending_count
            run.progress = 100.0 * done / run.customer_count if run.customer_count else 0.0
            run.amount_untaxed = sum(v[1] for v in states.values())
            run.amount_total = sum(v[2] for v in states.values())

    @api.depends("invoice_ids.rebilling_send_state")
    def _compute_send_counts(self):
        counts = defaultdict(dict)
        groups = self.env["account.move"]._read_group(
            [("rebilling_run_id", "in", self.ids)],
            ["rebilling_run_id", "rebilling_send_state"],
            ["__count"],
        )
        for run, state, count in groups:
            counts[run.id][state] = count
        for run in self:
            run.send_pending_count = counts[run.id].get("pending", 0)
            run.send_queued_count = counts[run.id].get("queued", 0)
            run.send_sent_count = counts[run.id].get("sent", 0)
            run.send_failed_count = counts[run.id].get("failed", 0)
            done = run.send_sent_count + run.send_failed_count
            todo = done + run.send_queued_count
            run.send_progress = 100.0 * done / todo if todo else 0.0

    def _previous_runs(self, limit):
        """The company's real runs of the months before this one, latest first."""
        self.ensure_one()
        return self.search(
            [
                ("company_id", "=", self.company_id.id),
                ("dry_run", "=", False),
                ("period_start", "<", self.period_start or fields.Date.today()),
            ],
            order="period_start desc",
            limit=limit,
        )

    @api.depends("period_start", "company_id")
    def _compute_previous_amount_total(self):
        for run in self:
            run.previous_amount_total = run._previous_runs(1).amount_total

    @api.depends("period_start", "company_id", "line_ids.amount_total")
    def _compute_month_graph(self):
        """Bars of the ``dashboard_graph`` widget: this run's total and the runs before it."""
        for run in self:
            runs = run._previous_runs(GRAPH_MONTHS - 1)
            if not run.dry_run:
                runs |= run
            values = [
                {
                    "label": format_date(self.env, month.period_start, date_format="MMM yyyy"),
                    "value": month.currency_id.round(month.amount_total),
                    "type": "future" if month == run else "past",
                }
                for month in runs.sorted("period_start")
            ]
            run.month_graph = json.dumps([{"key": self.env._("Total"), "values": values}])

    # ------------------------------------------------------------ summary
    def action_view_sending(self):
        """The run's invoices in the send state of the context (``rebilling_send_state``)."""
        action = self.action_view_invoices()
        state = self.env.context.get("rebilling_send_state")
        if state:
            action["domain"] = [*action["domain"], ("rebilling_send_state", "=", state)]
        return action

    def action_view_month_totals(self):
        """The totals of the company's rebilling invoices month by month (graph)."""
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_base.action_rebilling_month_totals"
        )
        action["domain"] = [
            ("rebilling_period", "!=", False),
            ("company_id", "=", self.company_id.id or self.env.company.id),
        ]
        return action

    def action_view_email_summary(self):
        return self.env["res.company"].action_rebilling_open_email_summary()

    def action_rebilling_preview(self):
        return (self.company_id or self.env.company).action_rebilling_preview()

    def action_view_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_base.action_rebilling_invoices"
        )
        action["domain"] = [("rebilling_run_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_view_errors(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Customer log"),
            "res_model": "rebilling.billing.run.line",
            "view_mode": "list,form",
            "domain": [("run_id", "=", self.id)],
            "context": {"search_default_error": 1},
        }

    def _rebilling_review_run_flags(self):
        """Hook: review flag codes of each run as a whole, ``{run id: set of codes}``.

        Extend for flags about the company's month rather than one invoice (such as
        calls of numbers no customer has). Declared here so that ``rebilling_review``
        (which shows them) and ``rebilling_voip`` (which raises ``unmatched_cdr``)
        both extend it with ``super()``, whatever their load order. The base raises none.
        """
        return {run.id: set() for run in self}

    # ------------------------------------------------------------ starting
    @api.model
    def _get_or_create(self, company, period_start, dry_run=False):
        """The run of ``company`` for ``period_start``; never two real runs per period."""
        period_start = month_bounds(fields.Date.to_date(period_start))[0]
        domain = [
            ("company_id", "=", company.id),
            ("period_start", "=", period_start),
            ("dry_run", "=", dry_run),
        ]
        run = self.search(domain, limit=1)
        if run:
            return run
        vals = {"company_id": company.id, "period_start": period_start, "dry_run": dry_run}
        try:
            with self.env.cr.savepoint():
                return self.create(vals)
        except psycopg2.IntegrityError:
            # Another transaction created it first: use that one.
            return self.search(domain, limit=1)

    def action_start(self):
        """Start (or resume) the runs: prepare the customer log and queue the chunks."""
        for run in self:
            if not run.company_id.rebilling_configured:
                raise UserError(
                    self.env._(
                        "The rebilling configuration of %(company)s is incomplete: %(missing)s.",
                        company=run.company_id.name,
                        missing=run.company_id.rebilling_config_missing,
                    )
                )
            run._prepare_lines()
            run._enqueue_chunks()
        return True

    @api.model
    def _rebilling_run_due(self, company, local_now):
        """Extend for other rules of when the monthly run of ``company`` is due.

        Returns ``(due, late)``: due from the company's run hour on the 1st
        (local time); a run missed in its window (server down) is still due
        on the 1st after 06:00 and on the 2nd and 3rd, and is then late.
        """
        day, hour = local_now.day, local_now.hour
        if day == 1 and hour >= company.rebilling_run_hour:
            return True, hour >= 6
        return day in (2, 3), True

    @api.model
    def _cron_monthly_run(self, now=None, commit=True):
        """Hourly: start each configured company's run of the month when it is due.

        One company's failure is logged and never stops another company's run.
        ``commit``: commit after each company (the cron; tests pass False).
        """
        now = now or fields.Datetime.now()
        companies = self.env["res.company"].search([("rebilling_sender_email", "!=", False)])
        for company in companies.filtered("rebilling_configured"):
            local = company._rebilling_local_now(now)
            due, late = self._rebilling_run_due(company, local)
            if not due:
                continue
            try:
                with self.env.cr.savepoint():
                    run = self._get_or_create(company, local.date())
                    if run.state != "draft":
                        continue
                    run.action_start()
                    if late:
                        run._rebilling_log_late_start(local)
            except Exception as exc:
                raise_if_transient(exc)
                _logger.exception("monthly billing run of %s failed to start", company.name)
                continue
            if commit:
                self.env["ir.cron"]._commit_progress(1)

    def _rebilling_log_late_start(self, local_now):
        self.ensure_one()
        self.message_post(
            body=self.env._(
                "Started late, at %(when)s (%(tz)s): the run hour of the 1st was missed "
                "(server down or busy).",
                when=format_datetime(
                    self.env,
                    local_now.replace(tzinfo=None),
                    tz="UTC",
                    dt_format="short",
                ),
                tz=self.company_id.rebilling_tz,
            )
        )
