"""The monthly billing run.

One run per company and period (the 1st of the invoiced month). A run has a
log line per customer; the lines are processed in chunks, either as OCA
``queue_job`` jobs (channel ``root.rebilling``) so several workers share the
run, or by a cron when no job runner is there. Each chunk commits on its own,
so a killed run resumes with the lines still pending; a customer whose own
data fails is recorded on its line and skipped. A transient database error
(serialization failure, deadlock, lock timeout) is never a customer's error:
the chunk is retried as a whole (the job's ``retry_pattern``).

Override points for other modules (all take and return plain data):

- ``_rebilling_usage_lines(partners)``: usage invoice lines per partner id;
- ``_rebilling_usage_partner_ids()``: customers that have usage to bill;
- ``_rebilling_prepare_invoice_vals(partner, line_vals)``: the invoice values;
- ``_rebilling_due_days(partner)``: days from invoice date to due date;
- ``_rebilling_after_invoices(invoices)``: called once per chunk on new invoices.
"""

import calendar
import json
import logging
import time
from collections import defaultdict
from datetime import timedelta

import psycopg2
from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.fields import Command
from odoo.tools import format_date, format_datetime

from ..tools.transient import raise_if_transient
from .account_move import REISSUE_CONTEXT

# Months drawn by the Summary's month-by-month graph (this one included).
GRAPH_MONTHS = 6

_logger = logging.getLogger(__name__)

CHUNK_SIZE = 100
RUN_CONTEXT = {
    "tracking_disable": True,
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
    "mail_notrack": True,
}
# Attempts of a chunk job; the pending-chunk cron takes over the lines of a failed one.
CHUNK_MAX_RETRIES = 20
# Without a job started for this long, the pending-chunk cron bills queued chunks itself.
RUNNER_IDLE_MINUTES = 10


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

    def _billable_partners(self):
        """Enabled customers of the company with anything to bill in this run."""
        self.ensure_one()
        company = self.company_id
        partner_domain = [
            ("rebilling_enabled", "=", True),
            ("company_id", "in", [company.id, False]),
        ]
        partners = self.env["res.partner"].search(partner_domain)
        service_domain = [
            ("company_id", "=", company.id),
            *self.env["rebilling.service"]._billable_domain(
                partners, self.period_start, self.period_end
            ),
        ]
        ids = set(
            self.env["rebilling.service"]
            .search_fetch(service_domain, ["partner_id"])
            .mapped("partner_id")
            .ids
        )
        charge_domain = [
            ("company_id", "=", company.id),
            *self.env["rebilling.charge"]._billable_domain(
                partners, self.period_start, self.period_end
            ),
        ]
        ids |= set(
            self.env["rebilling.charge"]
            .search_fetch(charge_domain, ["partner_id"])
            .mapped("partner_id")
            .ids
        )
        ids |= set(self._rebilling_usage_partner_ids()) & set(partners.ids)
        ids |= set(self.env["rebilling.adjustment"]._lines(self, partners))
        return self.env["res.partner"].browse(sorted(ids))

    def _prepare_lines(self):
        self.ensure_one()
        if not self.dry_run:
            # Before any chunk runs: chunks never create shared records.
            self.company_id._rebilling_journal()
        # A rerun of a finished period only adds customers that have no log line yet.
        partners = self._billable_partners()
        known = set(self.line_ids.partner_id.ids)
        new_lines = [
            {"run_id": self.id, "partner_id": pid, "company_id": self.company_id.id}
            for pid in partners.ids
            if pid not in known
        ]
        self.env["rebilling.billing.run.line"].create(new_lines)
        vals = {"state": "running"}
        if not self.date_started:
            vals["date_started"] = fields.Datetime.now()
        self.write(vals)

    def _enqueue_chunks(self):
        self.ensure_one()
        pending = self.line_ids.filtered(lambda line: line.state == "pending")
        for start in range(0, len(pending), CHUNK_SIZE):
            chunk = pending[start : start + CHUNK_SIZE]
            self.with_delay(
                max_retries=CHUNK_MAX_RETRIES,
                description=self.env._(
                    "%(run)s: customers %(a)s-%(b)s",
                    run=self.name,
                    a=start + 1,
                    b=start + len(chunk),
                ),
                identity_key=f"rebilling_chunk:{self.id}:{chunk[0].id}:{len(chunk)}",
            )._process_chunk(chunk.ids)
        if not pending:
            self._check_done()

    # ------------------------------------------------------------ processing
    def _process_chunk(self, line_ids):
        """Job: bill the customers of ``line_ids`` still pending (locked, skip locked)."""
        self.ensure_one()
        lines = self.env["rebilling.billing.run.line"]._lock_pending(line_ids)
        if lines:
            self._process_lines(lines)
        self._check_done()
        if self.state == "running":
            # Other chunks may commit after this one started: a job of its own,
            # visible only once this chunk commits, closes the run when the last
            # chunk is in.
            self.with_delay(
                description=self.env._("%s: close when complete", self.name),
                identity_key=f"rebilling_close:{self.id}:{min(line_ids)}",
            )._close_if_done()
        return self.env._("%s customers processed", len(lines))

    def _close_if_done(self):
        """Job: close the run when no customer is pending any more."""
        self._check_done()
        return self.state

    def _process_pending(self, limit=None, commit=False):
        """Process pending lines here (cron or command line), chunk by chunk."""
        self.ensure_one()
        processed = 0
        while limit is None or processed < limit:
            pending_ids = self.env["rebilling.billing.run.line"]._search(
                [("run_id", "=", self.id), ("state", "=", "pending")], limit=CHUNK_SIZE
            )
            lines = self.env["rebilling.billing.run.line"]._lock_pending(list(pending_ids))
            if not lines:
                break
            self._process_lines(lines)
            processed += len(lines)
            if commit:
                self.env["ir.cron"]._commit_progress(len(lines))
        self._check_done()
        return processed

    def _check_done(self):
        """Close the runs that have no pending customer left.

        Several workers may finish their last chunks at the same moment: the one
        that gets the run's row lock closes it, the others leave it alone.
        """
        for run in self:
            if run.state != "running":
                continue
            if self.env["rebilling.billing.run.line"].search_count(
                [("run_id", "=", run.id), ("state", "=", "pending")], limit=1
            ):
                continue
            try:
                with self.env.cr.savepoint():
                    self.env.cr.execute(
                        "SELECT id FROM rebilling_billing_run WHERE id = %s AND state = 'running'"
                        " FOR UPDATE NOWAIT",
                        [run.id],
                        log_exceptions=False,
                    )
                    if not self.env.cr.fetchone():
                        continue
                    now = fields.Datetime.now()
                    started = run.date_started
                    run.write(
                        {
                            "state": "done",
                            "date_finished": now,
                            "duration": (now - started).total_seconds() if started else 0.0,
                        }
                    )
                    run.flush_recordset()
            except (psycopg2.errors.LockNotAvailable, psycopg2.errors.SerializationFailure):
                _logger.info("billing run %s: closed by another worker", run.id)
                run.invalidate_recordset()
                continue
            run._rebilling_on_done()

    def _rebilling_review_run_flags(self):
        """Hook: review flag codes of each run as a whole, ``{run id: set of codes}``.

        Extend for flags about the company's month rather than one invoice (such as
        calls of numbers no customer has). Declared here so that ``rebilling_review``
        (which shows them) and ``rebilling_voip`` (which raises ``unmatched_cdr``)
        both extend it with ``super()``, whatever their load order. The base raises none.
        """
        return {run.id: set() for run in self}

    def _rebilling_on_done(self):
        """Hook: the run has no pending customer left."""
        self.ensure_one()
        self.message_post(
            body=self.env._(
                "%(run)s finished: %(inv)s invoices, %(err)s errors.",
                run=self.name,
                inv=self.invoice_count,
                err=self.error_count,
            )
        )
        self.company_id._rebilling_notify_run_done(self)

    def _process_lines(self, lines):
        """Bill ``lines`` (locked, pending). Isolate customers whose own data fails.

        A transient database error is re-raised (as a job retry) from any
        step: the whole chunk is retried, no customer is marked in error.
        """
        self.ensure_one()
        started = time.monotonic()
        partners = lines.partner_id
        try:
            with self.env.cr.savepoint():
                prepared = self._prepare_invoices(partners)
        except Exception as chunk_exc:
            raise_if_transient(chunk_exc)
            _logger.exception("billing run %s: preparing a chunk failed, isolating", self.id)
            prepared = {}
            for partner in partners:
                try:
                    with self.env.cr.savepoint():
                        prepared.update(self._prepare_invoices(partner))
                except Exception as exc:
                    raise_if_transient(exc)
                    lines.filtered(lambda line, p=partner: line.partner_id == p)._set_error(exc)
        lines_by_partner = {line.partner_id.id: line for line in lines if line.state == "pending"}
        nothing = [pid for pid in lines_by_partner if pid not in prepared]
        for pid in nothing:
            lines_by_partner.pop(pid)._set_nothing()
        if self.dry_run:
            for pid, vals in prepared.items():
                line_vals = [cmd[2] for cmd in vals["invoice_line_ids"]]
                untaxed = sum(v["quantity"] * v["price_unit"] for v in line_vals)
                lines_by_partner[pid].write(
                    {
                        "state": "done",
                        "amount_untaxed": untaxed,
                        "amount_total": untaxed,
                        "invoice_line_count": len(line_vals),
                    }
                )
            return
        prepared = {pid: data for pid, data in prepared.items() if pid in lines_by_partner}
        try:
            with self.env.cr.savepoint():
                invoices = self._create_invoices(prepared, lines_by_partner)
        except Exception as chunk_exc:
            raise_if_transient(chunk_exc)
            _logger.info("billing run %s: chunk failed, retrying customer by customer", self.id)
            invoices = self.env["account.move"]
            for pid, data in prepared.items():
                try:
                    with self.env.cr.savepoint():
                        invoices |= self._create_invoices({pid: data}, lines_by_partner)
                except Exception as exc:
                    raise_if_transient(exc)
                    lines_by_partner[pid]._set_error(exc)
        if invoices:
            self._rebilling_after_invoices(invoices)
        _logger.info(
            "billing run %s: %s customers, %s invoices in %.2fs",
            self.id,
            len(lines),
            len(invoices),
            time.monotonic() - started,
        )

    def _create_invoices(self, prepared, lines_by_partner):
        """Create, number and post the invoices of ``prepared`` in one batch."""
        if not prepared:
            return self.env["account.move"]
        company = self.company_id
        pids = list(prepared)
        numbers = company._rebilling_next_numbers(len(pids), self.period_start)
        vals_list = [
            dict(prepared[pid], name=number) for pid, number in zip(pids, numbers, strict=True)
        ]
        # No chatter work per invoice during the run (creation log, tracking, followers):
        # the run's own log says what was billed.
        Move = self.env["account.move"].with_company(company).with_context(**RUN_CONTEXT)
        moves = Move.create(vals_list)
        moves._post(soft=False)
        # Link once-off charges to the line that bills them.
        for line in moves.line_ids.filtered("rebilling_charge_id"):
            if line.rebilling_charge_id.charge_type == "once":
                line.rebilling_charge_id.invoice_line_id = line
        moves = moves.with_env(self.env)
        for move in moves:
            lines_by_partner[move.partner_id.id].write(
                {
                    "state": "done",
                    "invoice_id": move.id,
                    # Signed: a credit note lowers the month's total (Summary = CSV).
                    "amount_untaxed": move.amount_untaxed_signed,
                    "amount_total": move.amount_total_signed,
                    "invoice_line_count": len(move.invoice_line_ids),
                    "error": False,
                    "date_processed": fields.Datetime.now(),
                }
            )
        return moves

    # ------------------------------------------------------------ invoice values
    def _prepare_invoices(self, partners):
        """Invoice values per partner id: ``{pid: vals}``; none when nothing to bill."""
        self.ensure_one()
        company = self.company_id
        Service = self.env["rebilling.service"].with_company(company)
        Charge = self.env["rebilling.charge"].with_company(company)
        services = Service.search(
            [("company_id", "=", company.id)]
            + Service._billable_domain(partners, self.period_start, self.period_end)
        )
        charges = Charge.search(
            [("company_id", "=", company.id)]
            + Charge._billable_domain(partners, self.period_start, self.period_end)
        )
        reissued = self.env.context.get(REISSUE_CONTEXT)
        if reissued:
            # A reissue bills again the once-off charges the invoices billed.
            charges |= Charge.search(
                [
                    ("charge_type", "=", "once"),
                    ("partner_id", "in", partners.ids),
                    ("invoice_line_id.move_id", "in", reissued),
                    ("date_start", "<=", self.period_start),
                ]
            )
        usage = self._rebilling_usage_lines(partners)
        lines = defaultdict(list)
        in_lang = self._rebilling_partner_lang_runs()
        for service in services:
            lines[service.partner_id.id].append(in_lang(service.partner_id)._service_line(service))
        for charge in charges:
            lines[charge.partner_id.id].append(in_lang(charge.partner_id)._charge_line(charge))
        for pid, usage_lines in usage.items():
            lines[pid].extend(usage_lines)
        for pid, extra in self.env["rebilling.adjustment"]._lines(self, partners).items():
            lines[pid].extend(extra)
        skipped = self.env["rebilling.adjustment"]._catch_up_skipped(self, partners)
        result = {}
        for partner in partners:
            line_vals = [vals for vals in lines.get(partner.id, []) if vals]
            if not line_vals:
                continue
            vals = self._rebilling_prepare_invoice_vals(partner, line_vals)
            vals["rebilling_catch_up_skipped"] = self.company_id.currency_id.round(
                skipped.get(partner.id, 0.0)
            )
            result[partner.id] = self.env["rebilling.adjustment"]._credit_note_if_negative(vals)
        return result

    def _rebilling_partner_lang_runs(self):
        """A function giving ``self`` in a customer's language, so that the dates and
        amounts of line labels follow the customer (en_AU: 01/11/2026), not the user
        of the cron. Extend for another language choice."""
        runs = {}
        default = self.company_id.partner_id.lang or self.env.lang

        def in_lang(partner):
            lang = partner.lang or default
            if lang not in runs:
                runs[lang] = self.with_context(lang=lang)
            return runs[lang]

        return in_lang

    def _prorate(self, date_start, date_end):
        """(factor, first day, last day) of [date_start, date_end] within the invoiced month."""
        first = max(self.period_start, date_start or self.period_start)
        last = min(self.period_end, date_end or self.period_end)
        days = (self.period_end - self.period_start).days + 1
        return ((last - first).days + 1) / days, first, last

    def _period_label(self, first, last, factor):
        label = f"{format_date(self.env, first)} - {format_date(self.env, last)}"
        if factor < 1:
            days = (self.period_end - self.period_start).days + 1
            label += self.env._(", prorated %(n)s/%(d)s days", n=(last - first).days + 1, d=days)
        return label

    def _days_line(self, source, first, last, factor):
        """Name, quantity and unit price of ``source`` billed for [first, last] of the
        invoiced month (the shared amount rule: ``rebilling.adjustment._amount_vals``)."""
        days = (self.period_end - self.period_start).days + 1
        amounts, note = self.env["rebilling.adjustment"]._amount_vals(
            source.price_unit,
            source.quantity,
            (last - first).days + 1,
            days,
            self.company_id.currency_id,
        )
        label = self._period_label(first, last, factor)
        if note:
            label = f"{note}, {label}"
        return dict(amounts, name=f"{source.name} ({label})")

    def _service_line(self, service):
        factor, first, last = self._prorate(service.date_start, service.date_end)
        if factor <= 0:
            return None
        if service.service_type == "voice" and not service.price_unit:
            return None  # a usage-only service: its calls are billed by the usage hook
        return {
            "product_id": service.product_id.id,
            **self._days_line(service, first, last, factor),
            "rebilling_service_id": service.id,
            "rebilling_line_kind": "service",
            "rebilling_date_from": first,
            "rebilling_date_to": last,
        }

    def _charge_line(self, charge):
        if charge.charge_type == "once":
            return {
                "product_id": charge.product_id.id,
                "name": self.env._(
                    "%(name)s (once-off, %(date)s)",
                    name=charge.name,
                    date=format_date(self.env, charge.date_start),
                ),
                "quantity": charge.quantity,
                "price_unit": charge.price_unit,
                "rebilling_service_id": charge.service_id.id,
                "rebilling_charge_id": charge.id,
                "rebilling_line_kind": "once",
            }
        factor, first, last = self._prorate(charge.date_start, charge._rebilling_date_end())
        if factor <= 0:
            return None
        return {
            "product_id": charge.product_id.id,
            **self._days_line(charge, first, last, factor),
            "rebilling_service_id": charge.service_id.id,
            "rebilling_charge_id": charge.id,
            "rebilling_line_kind": "recurring",
            "rebilling_date_from": first,
            "rebilling_date_to": last,
        }

    # ------------------------------------------------------------ hooks
    def _rebilling_usage_lines(self, partners):
        """Hook: usage invoice line values per partner id (``rebilling_voip``)."""
        return {}

    def _rebilling_usage_partner_ids(self):
        """Hook: ids of customers with usage to bill in this run."""
        return []

    def _rebilling_due_days(self, partner):
        """Hook: days between the invoice date and the due date."""
        return self.company_id.rebilling_payment_term_days

    def _rebilling_prepare_invoice_vals(self, partner, line_vals):
        """Hook: the values of the invoice of ``partner``."""
        company = self.company_id
        journal = company._rebilling_journal()
        return {
            "move_type": "out_invoice",
            "company_id": company.id,
            "journal_id": journal.id,
            "partner_id": partner.id,
            "invoice_date": self.period_start,
            "date": self.period_start,
            "invoice_date_due": self.period_start
            + timedelta(days=self._rebilling_due_days(partner)),
            "invoice_payment_term_id": False,
            "invoice_origin": self.name,
            # The customer's salesperson, never the user or bot that runs the job.
            "invoice_user_id": partner.user_id.id,
            "rebilling_period": self.period_start,
            "rebilling_run_id": self.id,
            "invoice_line_ids": [Command.create(vals) for vals in line_vals],
        }

    def _rebilling_after_invoices(self, invoices):
        """Hook: new posted invoices of a chunk; queues them for email under Auto Invoice."""
        if self.company_id.rebilling_auto_invoice:
            invoices._rebilling_queue_send()

    # ------------------------------------------------------------ crons
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

    @api.model
    def _rebilling_job_runner_active(self):
        """Extend for other signs that a queue_job runner serves this database.

        A job started or enqueued within the last minutes.
        """
        since = fields.Datetime.now() - timedelta(minutes=RUNNER_IDLE_MINUTES)
        return bool(
            self.env["queue.job"]
            .sudo()
            .search_count(
                ["|", ("date_started", ">=", since), ("date_enqueued", ">=", since)], limit=1
            )
        )

    def _rebilling_chunks_queued(self):
        """Ids of the runs of ``self`` that have chunk jobs waiting or running."""
        jobs = (
            self.env["queue.job"]
            .sudo()
            .search_fetch(
                [
                    ("model_name", "=", self._name),
                    ("method_name", "=", "_process_chunk"),
                    ("state", "in", ["wait_dependencies", "pending", "enqueued", "started"]),
                ],
                ["records"],
            )
        )
        return {run_id for job in jobs for run_id in job.records.ids} & set(self.ids)

    @api.model
    def _cron_process_pending(self, commit=True):
        """Finish runs whose chunks have no job runner, or whose jobs failed for good.

        While a job runner works on a run's chunk jobs, the cron leaves the
        run to it (it only closes runs that have nothing pending). ``commit``:
        commit after each chunk (the cron; tests pass False).
        """
        runs = self.search([("state", "=", "running")])
        queued = runs._rebilling_chunks_queued() if self._rebilling_job_runner_active() else set()
        for run in runs:
            if run.id in queued:
                run._check_done()
                continue
            run._process_pending(commit=commit)
