"""The billing run's chunks: customers billed in jobs that commit on their own.

The run's log lines are processed in chunks, either as OCA ``queue_job`` jobs
(channel ``root.rebilling``) so several workers share the run, or by a cron
when no job runner is there. Each chunk commits on its own, so a killed run
resumes with the lines still pending; a customer whose own data fails is
recorded on its line and skipped. A transient database error (serialization
failure, deadlock, lock timeout) is never a customer's error: the chunk is
retried as a whole (the job's ``retry_pattern``). The last chunk closes the run.
"""

import logging
import time
from datetime import timedelta

import psycopg2

from odoo import api, fields, models

from ..tools.transient import raise_if_transient

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


class RebillingBillingRun(models.Model):
    _inherit = "rebilling.billing.run"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------ chunks
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

    # ------------------------------------------------------------ processing
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

    # ------------------------------------------------------------ without a job runner
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
