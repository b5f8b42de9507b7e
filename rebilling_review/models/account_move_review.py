"""Review of rebilling invoices before they are sent: the hold and approval.

An invoice of a customer class that reviews its invoices is created by the
billing run as usual (numbered, posted, dated the 1st), then held:

- ``under_review``: not sent, not on the portal (the portal only shows sent
  invoices), payment collection blocked (``payment_state = 'blocked'``);
- ``approved``: queued for email at once; the payment state is computed again;
- ``rejected``: marked for reissue, waiting for the recalculation (now or at
  the company's off-peak hour), after which it is under review again
  (``account_move_reissue.py``).

Adjust (``account_move_adjust.py``) and reissue reset the invoice to draft and
post it again: Odoo keeps its number and invoice date; the hold starts again.
The review flags are computed in ``account_move_review_flags.py``.

Override points:

- ``_rebilling_review_render()``: the documents of the zip download.
"""

from datetime import timedelta

from markupsafe import escape

from odoo import api, fields, models
from odoo.addons.rebilling_base.tools import notify
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain
from odoo.modules import module as odoo_module
from odoo.tools.mail import generate_tracking_message_id

REVIEW_STATES = [
    ("under_review", "Under review"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
]
HELD_STATES = ("under_review", "rejected")
APPROVER_GROUP = "rebilling_review.group_rebilling_approver"
CRON_BATCH = 200
# Written only by the approver actions and the crons (with sudo, after their checks).
REVIEW_FIELDS = frozenset(
    {
        "rebilling_review_state",
        "rebilling_review_deadline",
        "rebilling_review_flag_ids",
        "rebilling_approved_by_id",
        "rebilling_approved_date",
        "rebilling_reissue_at",
        "rebilling_reissue_error",
    }
)
# Writes that change no invoice line: skip Odoo's line synchronisation and balance check.
NO_LINE_SYNC = {
    "skip_invoice_sync": True,
    "check_move_validity": False,
    "skip_is_manually_modified": True,
}


class AccountMove(models.Model):
    _inherit = "account.move"

    rebilling_review_state = fields.Selection(
        REVIEW_STATES,
        "Review",
        copy=False,
        readonly=True,
        tracking=True,
        index="btree_not_null",
        help="Under review: created and numbered, not sent, no payment collection yet. "
        "Approved: on its way to the customer. Rejected: waiting to be reissued.",
    )
    rebilling_review_deadline = fields.Datetime(
        "Auto-approval",
        copy=False,
        readonly=True,
        help="End of the hold for review: the invoice is approved and sent automatically "
        "when nobody approved it by then.",
    )
    rebilling_review_flag_ids = fields.Many2many(
        "rebilling.review.flag",
        "rebilling_review_flag_account_move_rel",
        "move_id",
        "flag_id",
        "Review flags",
        copy=False,
        readonly=True,
    )
    rebilling_approved_by_id = fields.Many2one(
        "res.users", "Approved by", copy=False, readonly=True
    )
    rebilling_approved_date = fields.Datetime("Approved on", copy=False, readonly=True)

    # ------------------------------------------------------------ guards
    def write(self, vals):
        if not self.env.su and REVIEW_FIELDS & set(vals):
            raise AccessError(
                self.env._(
                    "The review of an invoice changes only through Approve, Adjust and "
                    "Reissue, by a rebilling approver."
                )
            )
        return super().write(vals)

    def button_draft(self):
        """An invoice held for review is reset to draft only by an approver (adjust, reissue)."""
        if self.filtered(lambda m: m.rebilling_review_state in HELD_STATES):
            self._rebilling_review_check_approver()
        return super().button_draft()

    def _post(self, soft=True):
        """A held invoice posted again (reset to draft by an approver): the hold starts again
        and its flags are computed again (adjust and reissue do it too)."""
        reposted = self.filtered(
            lambda m: m.posted_before and m.rebilling_review_state in HELD_STATES
        )
        posted = super()._post(soft=soft)
        reposted &= posted
        if reposted:
            reposted._rebilling_review_restart_hold()
            reposted._rebilling_review_start()
        return posted

    def _rebilling_review_check_approver(self):
        if not self.env.su and not self.env.user.has_group(APPROVER_GROUP):
            raise AccessError(
                self.env._(
                    "Only rebilling approvers can approve, adjust or reissue invoices under review."
                )
            )

    def _rebilling_review_check_state(self, action):
        """Raise unless every invoice is posted and in a review state that allows ``action``."""
        states = HELD_STATES if action == "reissue" else ("under_review",)
        wrong = self.filtered(
            lambda m: m.state != "posted" or m.rebilling_review_state not in states
        )
        if not wrong:
            return
        names = ", ".join(wrong.mapped("display_name"))
        if action == "approve":
            message = self.env._("Only invoices under review can be approved: %s.", names)
        elif action == "adjust":
            message = self.env._("Only invoices under review can be adjusted: %s.", names)
        else:
            message = self.env._(
                "Only invoices under review or rejected can be reissued: %s.", names
            )
        raise UserError(message)

    @api.model
    def _rebilling_review_domain(self):
        """Invoices under review of the companies the approver works in.

        The companies selected in the web client (``allowed_company_ids``), else
        the current company: never every company of the user by default.
        """
        companies = (
            self.env.companies if self.env.context.get("allowed_company_ids") else self.env.company
        )
        return [
            ("rebilling_review_state", "=", "under_review"),
            ("state", "=", "posted"),
            ("company_id", "in", companies.ids),
        ]

    # ------------------------------------------------------------ rebilling_base hooks
    def _rebilling_external_ready(self):
        """Held invoices go to Xero, Autotask or ConnectWise only once approved."""
        return (
            super()
            ._rebilling_external_ready()
            .filtered(lambda m: m.rebilling_review_state not in HELD_STATES)
        )

    def _rebilling_external_trigger_fields(self):
        return super()._rebilling_external_trigger_fields() | {"rebilling_review_state"}

    def _rebilling_sendable(self):
        """Invoices under review or waiting for reissue are never queued."""
        return (
            super()
            ._rebilling_sendable()
            .filtered(lambda m: m.rebilling_review_state not in HELD_STATES)
        )

    def action_rebilling_send(self):
        held = self.filtered(lambda m: m.rebilling_review_state in HELD_STATES)
        if held:
            raise UserError(
                self.env._(
                    "%s is under review: approve it and it is sent to the customer.",
                    ", ".join(held.mapped("display_name")),
                )
            )
        return super().action_rebilling_send()

    def action_register_payment(self):
        held = self.filtered(lambda m: m.rebilling_review_state in HELD_STATES)
        if held:
            raise UserError(
                self.env._(
                    "%s is under review: payments are collected once it is approved.",
                    ", ".join(held.mapped("display_name")),
                )
            )
        return super().action_register_payment()

    # ------------------------------------------------------------ generation
    def _rebilling_review_start(self):
        """New invoices under review: block payment collection and compute their flags."""
        if not self:
            return
        self.with_context(**NO_LINE_SYNC).write({"payment_state": "blocked"})
        self._rebilling_review_update_flags()

    # ------------------------------------------------------------ approve
    def action_rebilling_review_approve(self):
        """Approve the invoices under review: they are queued for email at once."""
        self._rebilling_review_check_approver()
        if not self:
            raise UserError(self.env._("Select the invoices to approve."))
        self._rebilling_review_check_state("approve")
        self._rebilling_review_approve()
        return self._rebilling_review_approved_notification(self)

    def action_rebilling_review_approve_unflagged(self):
        """Approve the invoices under review without review flag that the approver sees.

        Those of the current companies and, from the list, of its filter (the
        ``active_domain`` the list's header button passes).
        """
        self._rebilling_review_check_approver()
        domain = Domain(self._rebilling_review_domain()) & Domain(
            "rebilling_review_flag_ids", "=", False
        )
        if self.env.context.get("active_domain"):
            domain &= Domain(self.env.context["active_domain"])
        moves = self.search(domain)
        if not moves:
            return self._rebilling_review_notification(
                self.env._("No invoice without flags is under review."), "info"
            )
        moves._rebilling_review_approve()
        return self._rebilling_review_approved_notification(moves, unflagged=True)

    def _rebilling_review_approved_notification(self, moves, unflagged=False):
        failed = moves.filtered("rebilling_send_error")
        if failed:
            return self._rebilling_review_notification(
                self.env._(
                    "%(n)s invoice(s) approved, %(failed)s not queued for email: %(error)s.",
                    n=len(moves),
                    failed=len(failed),
                    error=failed[0].rebilling_send_error,
                ),
                "warning",
            )
        if unflagged:
            message = self.env._(
                "%s invoice(s) without flags approved: they are emailed within minutes.",
                len(moves),
            )
        else:
            message = self.env._(
                "%s invoice(s) approved: they are emailed to the customers within minutes.",
                len(moves),
            )
        return self._rebilling_review_notification(message)

    def _rebilling_review_approve(self, auto=False):
        """Approve (no check): collect payment again and queue the email."""
        if not self:
            return
        body = (
            self.env._(
                "Approved automatically: nobody approved the invoice within its hold for review."
            )
            if auto
            else ""
        )
        self._rebilling_review_write(
            {
                "rebilling_review_state": "approved",
                "rebilling_approved_by_id": self.env.uid,
                "rebilling_approved_date": fields.Datetime.now(),
                "rebilling_review_deadline": False,
                "rebilling_reissue_at": False,
                # Unblocked; the real payment state is computed again below.
                "payment_state": "not_paid",
            },
            body,
        )
        self.env.add_to_compute(self._fields["payment_state"], self)
        self.with_context(**NO_LINE_SYNC)._rebilling_queue_send()
        self._rebilling_released()

    def _rebilling_review_write(self, vals, body=""):
        """Write review fields on many invoices at once, with one chatter entry each.

        The invoice lines are not touched, so Odoo's line synchronisation is skipped.
        Odoo tracks fields record by record when the transaction commits; here the
        change of review state is logged in one batch instead: one note per invoice
        with its author, date, the old and new state and ``body``.
        """
        new_state = vals.get("rebilling_review_state")
        old_states = self.grouped("rebilling_review_state") if new_state else {}
        # The callers checked the approver (or are the crons): the review fields are
        # written with sudo, a direct write is refused (see ``write``).
        self.sudo().with_context(tracking_disable=True, **NO_LINE_SYNC).write(vals)
        changed = {old: moves for old, moves in old_states.items() if old != new_state}
        if not changed:
            return
        # The values of Odoo's batch log (_message_log_batch), plus tracking values.
        author_id, email_from = self._message_compute_author()
        base_values = {
            "author_id": author_id,
            "email_from": email_from,
            "model": self._name,
            "record_alias_domain_id": False,
            "record_company_id": False,
            "message_type": "notification",
            "is_internal": True,
            "subtype_id": self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note"),
            "body": escape(body),
            "email_add_signature": False,
            "message_id": generate_tracking_message_id("message-notify"),
            "reply_to": self.env["mail.thread"]._notify_get_reply_to(
                default=email_from, author_id=author_id
            )[False],
        }
        col_info = self.fields_get(["rebilling_review_state"])["rebilling_review_state"]
        Tracking = self.env["mail.tracking.value"].sudo()
        tracking_list = []
        for old_state, moves in changed.items():
            tracking = Tracking._create_tracking_values(
                old_state, new_state, "rebilling_review_state", col_info, moves[:1]
            )
            messages = moves.sudo()._message_create(
                [dict(base_values, res_id=move.id) for move in moves]
            )
            tracking_list += [dict(tracking, mail_message_id=message.id) for message in messages]
        Tracking.create(tracking_list)

    # ------------------------------------------------------------ hold
    def _rebilling_review_restart_hold(self):
        """The hold for review starts again (after an adjust or a reissue).

        A corrected invoice is not approved automatically before an approver had
        the customer class's hold to look at it (one day when the class no longer
        reviews).
        """
        now = fields.Datetime.now()
        for days, moves in self.grouped(
            lambda m: m.partner_id.rebilling_class_id._rebilling_review_hold_days() or 1
        ).items():
            moves.sudo().with_context(**NO_LINE_SYNC).write(
                {"rebilling_review_deadline": now + timedelta(days=days)}
            )

    # ------------------------------------------------------------ after a change
    def _rebilling_review_changed(self, bodies, attach=True):
        """After adjust or reissue: flags, the run's log, and a chatter note with the new PDF.

        ``attach=False``: the note without the document (see ``_rebilling_review_reissue``).
        """
        self._rebilling_review_update_flags()
        self._rebilling_review_sync_run_lines()
        documents = self._rebilling_review_render() if attach else {}
        for move in self:
            move.message_post(
                body=bodies[move.id],
                attachments=[documents[move]] if move in documents else [],
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )

    def _rebilling_review_sync_run_lines(self):
        lines = self.env["rebilling.billing.run.line"].search([("invoice_id", "in", self.ids)])
        for line in lines:
            move = line.invoice_id
            line.write(
                {
                    "amount_untaxed": move.amount_untaxed_signed,
                    "amount_total": move.amount_total_signed,
                    "invoice_line_count": len(move.invoice_line_ids),
                }
            )

    # ------------------------------------------------------------ documents
    def _rebilling_review_render(self):
        """``{move: (file name, content)}``: each invoice as its customer would get it now.

        The PDF sent to the customer is used when there is one; the others are
        rendered in one batch per company and report (HTML in test mode).
        """
        documents = {}
        for move in self.filtered("invoice_pdf_report_id"):
            documents[move] = (move.invoice_pdf_report_id.name, move.invoice_pdf_report_id.raw)
        todo = self - self.filtered("invoice_pdf_report_id")
        Sender = self.env["account.move.send"]
        Report = self.env["ir.actions.report"]
        groups = todo.grouped(lambda m: (m.company_id, Sender._get_default_pdf_report_id(m)))
        for (company, report), moves in groups.items():
            try:
                content, report_type = Report.with_company(company)._pre_render_qweb_pdf(
                    report.report_name, res_ids=moves.ids
                )
                by_id = Report._get_splitted_report(report.report_name, content, report_type)
            except UserError:
                # wkhtmltopdf without its patched Qt converts one document at a time.
                if len(moves) == 1:
                    raise
                report_type, by_id = "pdf", {}
            extension = "pdf" if report_type == "pdf" else report_type
            for move in moves:
                raw = by_id.get(move.id)
                if raw is None:  # not split: render it on its own
                    content, report_type = Report.with_company(company)._pre_render_qweb_pdf(
                        report.report_name, res_ids=move.ids
                    )
                    raw = Report._get_splitted_report(report.report_name, content, report_type)
                    raw = next(iter(raw.values()))
                    extension = "pdf" if report_type == "pdf" else report_type
                filename = move._get_invoice_report_filename(extension=extension, report=report)
                documents[move] = (filename, raw)
        return documents

    def _rebilling_review_zip(self):
        """A zip of the invoice documents, one file per invoice."""
        return self._rebilling_zip(self._rebilling_review_render())

    def action_rebilling_review_download(self):
        """Download the selected invoices as one zip."""
        self._rebilling_review_check_approver()
        if not self:
            raise UserError(self.env._("Select the invoices to download."))
        return {
            "type": "ir.actions.act_url",
            "url": "/rebilling/review/invoices.zip?ids=" + ",".join(map(str, self.ids)),
            "target": "download",
        }

    # ------------------------------------------------------------ crons
    @api.model
    def _cron_rebilling_review_auto_approve(self):
        """Approve the invoices whose hold for review ended without approval."""
        domain = [
            ("rebilling_review_state", "=", "under_review"),
            ("state", "=", "posted"),
            ("rebilling_review_deadline", "<=", fields.Datetime.now()),
        ]
        Move = self.sudo()
        while moves := Move.search(domain, limit=CRON_BATCH):
            for company, company_moves in moves.grouped("company_id").items():
                company_moves.with_company(company)._rebilling_review_approve(auto=True)
            if not odoo_module.current_test:
                remaining = Move.search_count(domain)
                if not self.env["ir.cron"]._commit_progress(len(moves), remaining=remaining):
                    break

    # ------------------------------------------------------------ helpers
    def _rebilling_review_notification(self, message, kind="success"):
        return notify.notification(message, kind, next_action=notify.SOFT_RELOAD)
