"""Sending rebilling invoices as queue jobs: one job per invoice, one commit per email.

``_rebilling_queue_send`` (account_move.py) marks the invoices queued and calls
``_rebilling_enqueue_send``: each invoice gets a job of its own on the channel
``root.rebilling.send`` (``queue.job.function`` data, with its ``retry_pattern``),
so every job worker of every server shares the month's emails and no job runs
long enough to meet Odoo's time limits (one PDF and one email, about a second).

A job renders the invoice (PDF; the call list XLSX was attached by the run),
posts the email and hands it to the mail server *inside* the job's transaction;
the job's commit then records it. The mail server's "250 OK" and the commit
cannot be one transaction: a worker killed between them (the unavoidable
window, a few milliseconds) sends that one email again when the job runner
requeues the dead job. The resend carries the same Message-ID as the first
attempt (``_rebilling_message_id``: the invoice and its send request, not
random), so mail clients and many servers show it once. No email is ever
accepted by the server and left for a later commit together with others, and
a killed job strands nothing: the runner requeues it and the other invoices'
jobs go on.
"""

import smtplib

from odoo import api, fields, models
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.tools import SQL

# Attempts of a send job (a locked invoice, the mail server unreachable).
SEND_MAX_RETRIES = 12


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    rebilling_send_attempt = fields.Integer(
        "Send Requests",
        copy=False,
        readonly=True,
        help="How many times the invoice was queued for email. It is part of the "
        "email's Message-ID: a resend after a crash keeps the Message-ID, a new send "
        "request gets a new one.",
    )

    def _rebilling_enqueue_send(self):
        """Queue one send job per invoice of ``self`` (already marked queued).

        Extend for another split of the work (the job stays one invoice).
        """
        if not self:
            return
        self.flush_model(["rebilling_send_attempt"])
        self.env.cr.execute(
            SQL(
                "UPDATE account_move SET rebilling_send_attempt = "
                "COALESCE(rebilling_send_attempt, 0) + 1 WHERE id IN %s",
                tuple(self.ids),
            )
        )
        self.invalidate_recordset(["rebilling_send_attempt"])
        for move in self:
            move.with_delay(
                max_retries=SEND_MAX_RETRIES,
                description=self.env._("Email invoice %s", move.name),
            )._rebilling_send_job()

    def _rebilling_send_job(self):
        """Job: render and email one queued invoice; the job's commit records it.

        Does nothing when the invoice is no longer queued (sent by another path,
        cancelled, or queued again: the latest request's job sends it).
        """
        self.ensure_one()
        move = self.try_lock_for_update(allow_referencing=True)
        if not move:
            raise RetryableJobError(
                self.env._("Invoice %s is being changed; trying again.", self.name),
                seconds=5,
            )
        if not move._rebilling_send_queued():
            return self.env._("%s: not queued any more", move.name)
        message_id = move._rebilling_message_id()
        # As Odoo's sending cron: the system sends, the author is the one who queued
        # it (``sending_data``). The email stays outgoing in this transaction (not
        # Odoo's "send after commit", which a killed worker would skip): it is sent
        # just below.
        move = move.sudo().with_context(
            mail_notify_force_send=False, rebilling_message_id=message_id
        )
        move.env["account.move.send"]._generate_and_send_invoices(move, from_cron=True)
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search([("message_id", "=", message_id), ("state", "=", "outgoing")])
        )
        # The mail server unreachable or gone mid-dialogue: not the invoice's failure.
        # The job is retried; nothing of this attempt is kept (rolled back).
        try:
            mails.with_context(rebilling_retry_unreachable=True).send(raise_exception=False)
        except smtplib.SMTPServerDisconnected as exc:
            raise RetryableJobError(
                self.env._("Invoice %s: the mail server closed the connection.", move.name)
            ) from exc
        return self.env._("%(name)s: %(state)s", name=move.name, state=move.rebilling_send_state)

    @api.model
    def _cron_account_move_send(self, job_count=10):
        """Odoo's batch sending cron leaves rebilling invoices to their send jobs.

        It would send them 20 at a time after its commit (a killed worker then
        strands them) with random Message-IDs. The domain is Odoo's, plus the
        rebilling exclusion; a failed send job is requeued from Job Queue.
        """
        domain = [
            ("sending_data", "!=", False),
            ("state", "=", "posted"),
            ("rebilling_period", "=", False),
        ]
        to_process = self.search(domain, limit=job_count).try_lock_for_update()
        if not to_process:
            return
        self.env["account.move.send"]._generate_and_send_invoices(to_process, from_cron=True)
        self.env["ir.cron"]._commit_progress(len(to_process), remaining=self.search_count(domain))

    def _rebilling_send_queued(self):
        """The invoice still waits for its email (extend for other holds)."""
        self.ensure_one()
        return bool(
            self.sending_data
            and self.state == "posted"
            and self.rebilling_period
            and not self.rebilling_send_cancelled
        )

    def _rebilling_message_id(self):
        """The Message-ID of this send request of the invoice: the same on every attempt.

        The invoice, its send request count and the database; the sender's domain.
        """
        self.ensure_one()
        domain = (self.company_id.rebilling_sender_email or "").rpartition("@")[2]
        dbuuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return (
            f"<rebilling-invoice-{self.id}.{self.rebilling_send_attempt or 0}"
            f".{dbuuid[:8]}@{domain or 'localhost'}>"
        )
